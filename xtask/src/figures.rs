//! The figures the book quotes. The benches write them to `book/figures/<chapter>.json`
//! (see `benches/common/mod.rs`, `Figures`); a page quotes one with
//! `{{#figure <chapter>.<key>}}`, which the book's preprocessor replaces by the
//! figure's text. The check proves that every tag names a figure, that every figures
//! file was measured with the bench sources as they are now, and that no page types a
//! figure by hand.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use regex::Regex;
use serde_json::Value;

use crate::chapters::relative;
use crate::includes::{self, Directive};
use crate::judge::Problems;

/// The digest both the benches and this check compute, from one source.
#[path = "../../benches/common/digest.rs"]
mod digest;

/// Where the figures files are, relative to the workspace root.
const DIR: &str = "book/figures";

/// Numbers with a unit that are not measurements, and may stand in prose as they are:
/// each entry is a phrase as it appears in a page, and why it is no figure. Keep it
/// tiny: a measured number belongs in a bench and a `{{#figure}}` tag.
const ALLOWED: &[(&str, &str)] = &[
    (
        "deadline (5 seconds",
        "the test kit's default deadline, a setting",
    ),
    ("give up after 50 ms", "a test's timeout, a setting"),
    ("(false after 30 ms)", "a test's timeout, a setting"),
    ("after 0 and after 50 ms", "a test's timeouts, settings"),
    ("a 5 s lock", "a test's timeout, a setting"),
    ("= 1 second", "`DROP_GRACE`, a constant"),
];

/// One figure, as the book prints it.
#[derive(Debug)]
pub struct Figure {
    pub text: String,
}

/// One figures file.
struct File {
    path: PathBuf,
    bench: String,
    /// Written by a quick pass (`cargo xtask bench --quick`): never the book's.
    quick: bool,
    sources: Vec<String>,
    digest: String,
    figures: BTreeMap<String, Figure>,
}

/// Every figures file, by chapter (the file's stem).
pub struct Figures {
    files: BTreeMap<String, File>,
}

impl Figures {
    /// Reads every `book/figures/*.json`; `Err` lists the files that could not be read.
    pub fn load(root: &Path) -> Result<Figures, Vec<String>> {
        let dir = root.join(DIR);
        let mut paths: Vec<PathBuf> = fs::read_dir(&dir)
            .map(|entries| {
                entries
                    .filter_map(Result::ok)
                    .map(|entry| entry.path())
                    .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
                    .collect()
            })
            .unwrap_or_default();
        paths.sort();
        let mut files = BTreeMap::new();
        let mut problems = Vec::new();
        for path in paths {
            let shown = relative(root, &path);
            let chapter = path
                .file_stem()
                .and_then(|stem| stem.to_str())
                .unwrap_or_default()
                .to_owned();
            match fs::read_to_string(&path)
                .map_err(|e| e.to_string())
                .and_then(|text| parse(path.clone(), &text))
            {
                Ok(file) => {
                    files.insert(chapter, file);
                }
                Err(problem) => problems.push(format!("{shown}: {problem}")),
            }
        }
        if problems.is_empty() {
            Ok(Figures { files })
        } else {
            Err(problems)
        }
    }

    /// The figure `name` (`chapter.key`) names, or why there is none.
    pub fn get(&self, name: &str) -> Result<&Figure, String> {
        let Some((chapter, key)) = name.split_once('.') else {
            return Err(format!(
                "`{name}` is not `<chapter>.<key>` (e.g. ch05_sync.lock_uncontended_ns)"
            ));
        };
        let Some(file) = self.files.get(chapter) else {
            let known: Vec<&str> = self.files.keys().map(String::as_str).collect();
            return Err(format!(
                "no {DIR}/{chapter}.json (figures files: {})",
                if known.is_empty() {
                    "none".to_owned()
                } else {
                    known.join(", ")
                }
            ));
        };
        file.figures.get(key).ok_or_else(|| {
            let keys: Vec<&str> = file.figures.keys().map(String::as_str).collect();
            format!(
                "{DIR}/{chapter}.json has no figure `{key}` (it has: {}); run `cargo bench \
                 --bench {}` if the bench writes it now",
                keys.join(", "),
                file.bench
            )
        })
    }
}

/// A figures file's contents, or why it is not one.
fn parse(path: PathBuf, text: &str) -> Result<File, String> {
    let json: Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    let string = |key: &str| {
        json.get(key)
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| format!("no string `{key}`"))
    };
    let sources = json
        .get("sources")
        .and_then(Value::as_array)
        .and_then(|list| list.iter().map(|s| s.as_str().map(str::to_owned)).collect())
        .ok_or("no list of strings `sources`")?;
    let mut figures = BTreeMap::new();
    let table = json
        .get("figures")
        .and_then(Value::as_object)
        .ok_or("no object `figures`")?;
    for (key, figure) in table {
        let text = figure
            .get("text")
            .and_then(Value::as_str)
            .ok_or_else(|| format!("figure `{key}` has no string `text`"))?;
        figures.insert(
            key.clone(),
            Figure {
                text: text.to_owned(),
            },
        );
    }
    Ok(File {
        path,
        quick: json.get("quick").and_then(Value::as_bool).unwrap_or(false),
        bench: string("bench")?,
        sources,
        digest: string("source_digest")?,
        figures,
    })
}

/// `text` (the page `page`) with every `{{#figure chapter.key}}` replaced by the
/// figure's text. `Err` lists the tags that name no figure.
pub fn expand(
    root: &Path,
    page: &Path,
    text: &str,
    figures: &Figures,
) -> Result<String, Vec<String>> {
    includes::replace(root, page, text, "figure", |tag| {
        figures.get(tag.rest).map(|figure| figure.text.clone())
    })
}

/// The `{{#figure ...}}` tags of a page.
fn tags(text: &str) -> Vec<Directive<'_>> {
    includes::directives(text)
        .into_iter()
        .filter(|directive| directive.kind == "figure")
        .collect()
}

/// `cargo xtask check`'s step: the figures files are current, every tag names a
/// figure, no page types a figure by hand. Prints its summary line and its problems.
pub fn check(root: &Path) -> Problems {
    let mut found = Problems::default();
    let figures = Figures::load(root).unwrap_or_else(|problems| {
        for problem in problems {
            found.add(format!("figures: {problem}"));
        }
        Figures {
            files: BTreeMap::new(),
        }
    });
    for file in figures.files.values() {
        if let Some(problem) = stale(root, file) {
            found.add(format!("figures: {problem}"));
        }
        if file.quick {
            found.add(format!(
                "figures: {} comes from a quick pass, too short to quote; run `cargo xtask \
                 bench` (or `cargo bench --bench {}`)",
                relative(root, &file.path),
                file.bench
            ));
        }
    }
    let mut pages = Vec::new();
    crate::chapters::files_with_extension(&root.join("book/src"), "md", &mut pages);
    pages.sort();
    let mut tags_checked = 0;
    let mut excused = BTreeSet::new();
    for page in &pages {
        let Ok(text) = fs::read_to_string(page) else {
            found.add(format!("{}: unreadable", relative(root, page)));
            continue;
        };
        tags_checked += tags(&text).len();
        if let Err(problems) = expand(root, page, &text, &figures) {
            for problem in problems {
                found.add(format!("figures: {problem}"));
            }
        }
        let typed = typed_by_hand(&text);
        excused.extend(typed.excused);
        for (line, typed) in typed.figures {
            found.add(format!(
                "figures: {}:{line}: `{typed}` looks like a figure typed by hand; quote it \
                 with {{{{#figure <chapter>.<key>}}}} from a bench's figures file, or, if \
                 it is no measurement, add the phrase to ALLOWED in xtask/src/figures.rs",
                relative(root, page)
            ));
        }
    }
    for (phrase, _) in ALLOWED
        .iter()
        .filter(|(phrase, _)| !excused.contains(phrase))
    {
        found.add(format!(
            "figures: the allowed phrase {phrase:?} excuses nothing in book/src any more; \
             remove it from ALLOWED in xtask/src/figures.rs"
        ));
    }
    println!(
        "figures    {} file(s), {} tag(s) in book/src, {} problem(s)",
        figures.files.len(),
        tags_checked,
        found.0.len()
    );
    found.print_indented(usize::MAX);
    found
}

/// Why `file` no longer matches the sources it was measured with, if it does not.
fn stale(root: &Path, file: &File) -> Option<String> {
    let shown = relative(root, &file.path);
    let rerun = format!("run `cargo bench --bench {}` again", file.bench);
    let mut expected = vec![format!("benches/{}.rs", file.bench)];
    match digest::common_sources(root) {
        Ok(common) => expected.extend(common),
        Err(problem) => return Some(format!("{shown}: {problem}")),
    }
    if let Some(missing) = expected
        .iter()
        .find(|source| !file.sources.contains(source))
    {
        return Some(format!(
            "{shown} is stale: it was measured without {missing}; {rerun}"
        ));
    }
    match digest::source_digest(root, &file.sources) {
        Err(problem) => Some(format!("{shown} is stale: {problem}; {rerun}")),
        Ok(digest) if digest != file.digest => Some(format!(
            "{shown} is stale: its bench's sources ({}) changed since it was measured; {rerun}",
            file.sources.join(", ")
        )),
        Ok(_) => None,
    }
}

/// What [`typed_by_hand`] found in a page.
#[derive(Default)]
struct Typed {
    /// Numbers with a unit that nothing excuses, with their line numbers.
    figures: Vec<(usize, String)>,
    /// The phrases of [`ALLOWED`] that excused one.
    excused: BTreeSet<&'static str>,
}

/// Numbers with a unit in `text`'s prose (outside code blocks, inline code and
/// directives), and which of them [`ALLOWED`] excuses.
fn typed_by_hand(text: &str) -> Typed {
    static FIGURE: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(
            r"(?xi)
            (?P<number>\d(?:[\d.,]|[\x20\u{2009}\u{a0}]\d)*)
            [\x20\u{2009}\u{a0}]?
            (?:
              (?P<unit>nanoseconds?|microseconds?|milliseconds?|seconds?|secs?|ns|µs|us|ms|s
                      |/s|%|×|x)
            | \x20times\x20(?:faster|slower|as\x20fast|quicker|more)
            )",
        )
        .expect("valid regex")
    });
    let mut found = Typed::default();
    let mut fence: Option<&str> = None;
    for (index, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        if let Some(open) = fence {
            if trimmed.starts_with(open) {
                fence = None;
            }
            continue;
        }
        if let Some(open) = ["```", "~~~"].into_iter().find(|f| trimmed.starts_with(f)) {
            fence = Some(open);
            continue;
        }
        let prose = prose_of(line);
        for caps in FIGURE.captures_iter(&prose) {
            let whole = caps.get(0).expect("a match has a whole");
            let after = &prose[whole.end()..];
            let next = after.chars().next();
            if next.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                continue; // "3 steps", "2x2": a word, not a unit
            }
            if caps
                .name("unit")
                .is_some_and(|unit| matches!(unit.as_str(), "x" | "X" | "×"))
                && after.trim_start().starts_with(|c: char| c.is_ascii_digit())
            {
                continue; // "4 x 100 000": a product
            }
            if prose[..whole.start()]
                .chars()
                .next_back()
                .is_some_and(|c| c.is_alphanumeric() || c == '_')
            {
                continue; // "ch05", "x86": part of a name
            }
            let typed = whole.as_str().trim();
            let excuse = ALLOWED
                .iter()
                .find(|(phrase, _)| line.contains(phrase) && phrase.contains(typed));
            match excuse {
                Some((phrase, _)) => {
                    found.excused.insert(phrase);
                }
                None => found.figures.push((index + 1, typed.to_owned())),
            }
        }
    }
    found
}

/// `line` with its inline code spans and `{{#...}}` directives blanked out.
fn prose_of(line: &str) -> String {
    static CODE: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"`[^`]*`|\{\{[^}]*\}\}").expect("valid regex"));
    CODE.replace_all(line, |caps: &regex::Captures<'_>| " ".repeat(caps[0].len()))
        .into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn figures() -> Figures {
        let file = parse(
            PathBuf::from("book/figures/ch05_sync.json"),
            r#"{ "bench": "ch05_sync", "sources": ["benches/ch05_sync.rs"],
                 "source_digest": "00",
                 "figures": { "lock_ns": { "value": 5.2, "unit": "ns", "text": "5.2 ns" } } }"#,
        )
        .expect("a valid figures file");
        Figures {
            files: BTreeMap::from([("ch05_sync".to_owned(), file)]),
        }
    }

    #[test]
    fn tags_become_the_figures_text() {
        let page = Path::new("/r/book/src/p.md");
        let text = "It costs {{#figure ch05_sync.lock_ns}} a pair; \\{{#figure x.y}} stays.";
        let out = expand(Path::new("/r"), page, text, &figures()).unwrap();
        assert_eq!(out, "It costs 5.2 ns a pair; \\{{#figure x.y}} stays.");
    }

    #[test]
    fn a_tag_that_names_no_figure_is_an_error() {
        let page = Path::new("/r/book/src/p.md");
        for (tag, expected) in [
            (
                "{{#figure ch05_sync.nope}}",
                "has no figure `nope` (it has: lock_ns)",
            ),
            (
                "{{#figure ch09_none.lock_ns}}",
                "no book/figures/ch09_none.json",
            ),
            ("{{#figure lock_ns}}", "is not `<chapter>.<key>`"),
        ] {
            let text = format!("a\n{tag}\n");
            let problems = expand(Path::new("/r"), page, &text, &figures()).unwrap_err();
            assert_eq!(problems.len(), 1, "{problems:?}");
            assert!(problems[0].starts_with("book/src/p.md:2: "), "{problems:?}");
            assert!(problems[0].contains(expected), "{problems:?}");
        }
    }

    #[test]
    fn figures_typed_by_hand_are_found_in_prose_only() {
        let page = "\
Uncontended, the lock costs ~21 ns an acquire and release.
It gave 5.2 ns (std's 4.4\u{2009}ns), 34 000/s, and a round trip of 6 µs.
CPython is 48x slower, or 48× slower, or 3 times faster; 14 to 30 % are lost.
Quoted: {{#figure ch05_sync.lock_ns}}, `10 ms` in code, 4 x 100 000 increments, 4×100k.
3 steps, 2 processes, chapter 5, exercise 7; the others give up after 50 ms.
```text
t=0     wait 100 ms
```
";
        let typed = typed_by_hand(page);
        assert_eq!(typed.excused, BTreeSet::from(["give up after 50 ms"]));
        let found: Vec<String> = typed
            .figures
            .into_iter()
            .map(|(line, text)| format!("{line}:{text}"))
            .collect();
        assert_eq!(
            found,
            [
                "1:21 ns",
                "2:5.2 ns",
                "2:4.4\u{2009}ns",
                "2:34 000/s",
                "2:6 µs",
                "3:48x",
                "3:48×",
                "3:3 times faster",
                "3:30 %",
            ]
        );
    }

    #[test]
    fn a_figures_file_is_stale_when_its_sources_change() {
        let root = std::env::temp_dir().join(format!("xtask-figures-{}", std::process::id()));
        let _ = fs::remove_dir_all(&root);
        fs::create_dir_all(root.join("benches/common")).unwrap();
        fs::write(root.join("benches/b.rs"), "fn main() {}").unwrap();
        fs::write(root.join("benches/common/mod.rs"), "// shared").unwrap();
        let sources = vec![
            "benches/b.rs".to_owned(),
            "benches/common/mod.rs".to_owned(),
        ];
        let measured = digest::source_digest(&root, &sources).unwrap();
        let file = |sources: &[String]| File {
            path: root.join("book/figures/ch01_x.json"),
            bench: "b".to_owned(),
            quick: false,
            sources: sources.to_vec(),
            digest: measured.clone(),
            figures: BTreeMap::new(),
        };
        assert_eq!(stale(&root, &file(&sources)), None);
        let partial = stale(&root, &file(&sources[..1])).unwrap();
        assert!(
            partial.contains("measured without benches/common/mod.rs"),
            "{partial}"
        );
        fs::write(root.join("benches/b.rs"), "fn main() { }").unwrap();
        let changed = stale(&root, &file(&sources)).unwrap();
        assert!(
            changed.contains("is stale: its bench's sources"),
            "{changed}"
        );
        assert!(changed.contains("cargo bench --bench b"), "{changed}");
        fs::remove_dir_all(&root).unwrap();
    }
}
