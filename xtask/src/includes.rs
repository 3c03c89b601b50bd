//! The book's `{{#include}}` directives: the check that each one resolves (mdBook
//! renders a misspelled anchor as an empty code block without a word), and the
//! expansion the book's preprocessor does in mdBook's place, so that included code
//! shows as the reader should see it: without the one-source marker lines
//! (`// BEGIN SOLUTION`, `// END SOLUTION`, `// SKELETON: ...`) and dedented (mdBook
//! keeps the indentation of the `impl` an anchor sits in, its issue #1430).
//!
//! The parsing follows mdBook 0.5.4's links preprocessor (`links.rs`, `take_lines.rs`).

use std::fs;
use std::ops::Range;
use std::path::{Component, Path, PathBuf};
use std::sync::LazyLock;

use regex::Regex;

use crate::chapters::relative;

/// What the check found.
pub struct Report {
    /// How many directives were checked.
    pub checked: usize,
    /// One line per broken directive.
    pub problems: Vec<String>,
}

/// What part of a file a directive takes.
#[derive(Debug, PartialEq, Eq)]
enum Part {
    /// Lines `start..end`, zero-based, `end` excluded; `None` is unbounded.
    Lines(Option<usize>, Option<usize>),
    Anchor(String),
}

/// One `{{#kind rest}}` directive of a page (escaped ones, `\{{#...}}`, are not).
pub struct Directive<'a> {
    /// Where it is in the page, braces included.
    pub span: Range<usize>,
    /// `include`, `figure`, ...
    pub kind: &'a str,
    /// What follows the kind, trimmed.
    pub rest: &'a str,
}

impl Directive<'_> {
    /// "book/src/page.md:12: {{#include ...}}", for messages.
    pub fn place(&self, root: &Path, page: &Path, text: &str) -> String {
        let line = text[..self.span.start].matches('\n').count() + 1;
        format!(
            "{}:{line}: {}",
            relative(root, page),
            &text[self.span.clone()]
        )
    }
}

/// Every directive of `text`, in order, as mdBook's links preprocessor finds them.
pub fn directives(text: &str) -> Vec<Directive<'_>> {
    static LINK: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(
            r"(?x)
            \\\{\{\#.*\}\}              # an escaped link, left alone
            | \{\{\s*\#([a-zA-Z0-9_]+)  # the link type
              \s+([^}]+)\}\}            # its path and properties",
        )
        .expect("valid regex")
    });
    LINK.captures_iter(text)
        .filter_map(|caps| {
            let (kind, rest) = (caps.get(1)?, caps.get(2)?);
            Some(Directive {
                span: caps.get(0)?.range(),
                kind: kind.as_str(),
                rest: rest.as_str().trim(),
            })
        })
        .collect()
}

/// The directives that read a file, and which this module checks.
const INCLUDES: [&str; 4] = ["include", "rustdoc_include", "playground", "playpen"];

/// Checks every `.md` file under `book_src`.
pub fn check(root: &Path, book_src: &Path) -> Report {
    let mut pages = Vec::new();
    crate::chapters::files_with_extension(book_src, "md", &mut pages);
    pages.sort();
    let mut report = Report {
        checked: 0,
        problems: Vec::new(),
    };
    for page in pages {
        let Ok(text) = fs::read_to_string(&page) else {
            report
                .problems
                .push(format!("{}: unreadable", relative(root, &page)));
            continue;
        };
        let dir = page.parent().unwrap_or(book_src);
        for directive in directives(&text) {
            if !INCLUDES.contains(&directive.kind) {
                continue;
            }
            report.checked += 1;
            if let Err(problem) = included(root, dir, &directive) {
                let here = directive.place(root, &page, &text);
                report.problems.push(format!("{here}: {problem}"));
            }
        }
    }
    report
}

/// `text` (the page `page`) with every `{{#kind ...}}` directive replaced by what
/// `with` makes of it; the other directives are left as they are. `Err` lists every
/// directive `with` refused, each as "page:line: directive: problem".
pub fn replace(
    root: &Path,
    page: &Path,
    text: &str,
    kind: &str,
    mut with: impl FnMut(&Directive<'_>) -> Result<String, String>,
) -> Result<String, Vec<String>> {
    let mut out = String::with_capacity(text.len());
    let mut problems = Vec::new();
    let mut copied = 0;
    for directive in directives(text) {
        if directive.kind != kind {
            continue;
        }
        match with(&directive) {
            Ok(body) => {
                out.push_str(&text[copied..directive.span.start]);
                out.push_str(&body);
                copied = directive.span.end;
            }
            Err(problem) => {
                problems.push(format!("{}: {problem}", directive.place(root, page, text)))
            }
        }
    }
    out.push_str(&text[copied..]);
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(problems)
    }
}

/// `text` (a page in `dir`) with every `{{#include}}` replaced by the text it names,
/// as [`included`] gives it; the other directives are left to mdBook. `Err` lists
/// every include that did not resolve, each as "page:line: directive: problem".
pub fn expand(root: &Path, page: &Path, text: &str) -> Result<String, Vec<String>> {
    let dir = page.parent().unwrap_or(root);
    replace(root, page, text, "include", |directive| {
        included(root, dir, directive)
    })
}

/// The text an include directive of a page in `dir` stands for: the part of the file
/// it names (a `playground` takes the whole file), without the one-source marker
/// lines, dedented. `Err` says why not, including when nothing but blank lines is left.
fn included(root: &Path, dir: &Path, directive: &Directive<'_>) -> Result<String, String> {
    let Some(arg) = directive.rest.split_whitespace().next() else {
        return Err("names no file".to_owned());
    };
    let (file, part) = if directive.kind.starts_with("play") {
        (arg, Part::Lines(None, None))
    } else {
        let mut pieces = arg.splitn(2, ':');
        let file = pieces.next().unwrap_or(arg);
        (file, parse_part(pieces.next()))
    };
    // Read as mdBook reads it (through any symlink), shown without the `..`s.
    let target = dir.join(file);
    let shown = relative(root, &normalise(&target));
    let text = fs::read_to_string(&target).map_err(|e| format!("cannot read {shown}: {e}"))?;
    let taken = match part {
        Part::Lines(start, end) => {
            let lines: Vec<&str> = text.lines().collect();
            let from = start.unwrap_or(0).min(lines.len());
            let to = end.unwrap_or(lines.len()).min(lines.len()).max(from);
            if from >= lines.len() && !lines.is_empty() {
                return Err(format!(
                    "starts at line {} but {shown} has {} lines",
                    from + 1,
                    lines.len()
                ));
            }
            lines[from..to].join("\n")
        }
        Part::Anchor(anchor) => {
            anchored(&text, &anchor).map_err(|problem| format!("{problem} in {shown}"))?
        }
    };
    let shown_text = dedent(&strip_markers(&taken));
    if shown_text.trim().is_empty() {
        return Err("includes nothing but blank lines".to_owned());
    }
    Ok(shown_text)
}

/// `text` without the lines of the one-source markers (`// BEGIN SOLUTION`,
/// `// END SOLUTION`, `// SKELETON: ...`), which mean something to `cargo xtask
/// skeletons` and nothing to a reader.
pub fn strip_markers(text: &str) -> String {
    static MARKER: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"^\s*//\s*(BEGIN SOLUTION|END SOLUTION)\s*$|^\s*//\s*SKELETON:")
            .expect("valid regex")
    });
    text.lines()
        .filter(|line| !MARKER.is_match(line))
        .collect::<Vec<_>>()
        .join("\n")
}

/// `text` without the leading whitespace all its non-blank lines share; blank lines
/// become empty.
pub fn dedent(text: &str) -> String {
    let mut common: Option<&str> = None;
    for line in text.lines().filter(|line| !line.trim().is_empty()) {
        let indent = &line[..line.len() - line.trim_start().len()];
        common = Some(match common {
            None => indent,
            Some(common) => {
                let shared = common
                    .bytes()
                    .zip(indent.bytes())
                    .take_while(|(a, b)| a == b)
                    .count();
                &common[..shared]
            }
        });
    }
    let cut = common.map_or(0, str::len);
    text.lines()
        .map(|line| {
            line.get(cut..)
                .filter(|_| !line.trim().is_empty())
                .unwrap_or("")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// `a/b/../c` as `a/c`, without asking the file system, so that messages show the
/// file the include means even when it does not exist.
fn normalise(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::ParentDir if out.file_name().is_some() => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

/// The lines between `ANCHOR: name` and `ANCHOR_END: name`, without nested anchor
/// lines, as mdBook takes them; an error when either marker is missing.
fn anchored(text: &str, anchor: &str) -> Result<String, String> {
    static START: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"ANCHOR:\s*(?P<name>[\w_-]+)").expect("valid regex"));
    static END: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"ANCHOR_END:\s*(?P<name>[\w_-]+)").expect("valid regex"));
    let (start, end) = (&*START, &*END);
    let mut kept = Vec::new();
    let mut inside = false;
    let mut found = false;
    for line in text.lines() {
        if inside {
            match end.captures(line) {
                Some(caps) if &caps["name"] == anchor => return Ok(kept.join("\n")),
                Some(_) => {}
                None if !start.is_match(line) => kept.push(line),
                None => {}
            }
        } else if start
            .captures(line)
            .is_some_and(|caps| &caps["name"] == anchor)
        {
            inside = true;
            found = true;
        }
    }
    if found {
        Err(format!(
            "no `ANCHOR_END: {anchor}` after `ANCHOR: {anchor}`"
        ))
    } else {
        let names: Vec<String> = start
            .captures_iter(text)
            .map(|caps| caps["name"].to_owned())
            .collect();
        let known = if names.is_empty() {
            "the file has no anchors".to_owned()
        } else {
            format!("anchors there: {}", names.join(", "))
        };
        Err(format!("no `ANCHOR: {anchor}` ({known})"))
    }
}

/// mdBook's reading of what follows the file name: `:anchor`, `:N` (line N alone),
/// `:N:`, `::M`, `:N:M` (one-based, inclusive), or nothing.
fn parse_part(spec: Option<&str>) -> Part {
    let mut parts = spec.unwrap_or("").splitn(3, ':');
    let first = parts.next();
    let start = match first {
        Some(s) if s.parse::<usize>().is_ok() => {
            s.parse::<usize>().ok().map(|n| n.saturating_sub(1))
        }
        Some("") | None => None,
        Some(anchor) => return Part::Anchor(anchor.to_owned()),
    };
    let end = parts.next().map(str::parse::<usize>);
    match (start, end) {
        (Some(start), Some(Ok(end))) => Part::Lines(Some(start), Some(end)),
        (Some(start), Some(Err(_))) => Part::Lines(Some(start), None),
        (Some(start), None) => Part::Lines(Some(start), Some(start + 1)),
        (None, Some(Ok(end))) => Part::Lines(None, Some(end)),
        (None, _) => Part::Lines(None, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SOURCE: &str = "\
fn a() {}
// ANCHOR: outer
fn b() {}
// ANCHOR: inner
fn c() {}
// ANCHOR_END: inner
// ANCHOR_END: outer
// ANCHOR: empty
// ANCHOR_END: empty
// ANCHOR: open
";

    #[test]
    fn anchors() {
        assert_eq!(anchored(SOURCE, "outer").unwrap(), "fn b() {}\nfn c() {}");
        assert_eq!(anchored(SOURCE, "empty").unwrap(), "");
        assert!(anchored(SOURCE, "open")
            .unwrap_err()
            .contains("no `ANCHOR_END: open`"));
        let missing = anchored(SOURCE, "outr").unwrap_err();
        assert!(missing.contains("no `ANCHOR: outr`"), "{missing}");
        assert!(
            missing.contains("anchors there: outer, inner, empty, open"),
            "{missing}"
        );
    }

    #[test]
    fn parts() {
        assert_eq!(parse_part(None), Part::Lines(None, None));
        assert_eq!(parse_part(Some("name")), Part::Anchor("name".into()));
        assert_eq!(parse_part(Some("3")), Part::Lines(Some(2), Some(3)));
        assert_eq!(parse_part(Some("3:")), Part::Lines(Some(2), None));
        assert_eq!(parse_part(Some(":5")), Part::Lines(None, Some(5)));
        assert_eq!(parse_part(Some("2:5")), Part::Lines(Some(1), Some(5)));
    }
}

#[cfg(test)]
mod expansion_tests {
    use super::*;

    /// A solution file as the one-source markers make it, inside an `impl`.
    const SOLUTION: &str = "\
impl Lock {
    // ANCHOR: release
    /// Releases the lock.
    pub fn release(&self) -> Result<(), SyncError> {
        // SKELETON: // TODO: release the lock; wake one waiter if there may be one.
        // SKELETON: todo!(\"release the lock\")
        // BEGIN SOLUTION
        let word = &self.state.word;

        if word.swap(0, Release) == 2 {
            wake_one(word);
        }
        // END SOLUTION
        Ok(())
    }
    // ANCHOR_END: release
}
";

    /// A directory with `src/lock.rs` (the file above) and `book/src/`, removed on drop.
    struct Tree(PathBuf);

    impl Tree {
        fn new(name: &str) -> Tree {
            let root = std::env::temp_dir().join(format!("xtask-{name}-{}", std::process::id()));
            let _ = fs::remove_dir_all(&root);
            fs::create_dir_all(root.join("src")).unwrap();
            fs::create_dir_all(root.join("book/src/ch05_sync")).unwrap();
            fs::write(root.join("src/lock.rs"), SOLUTION).unwrap();
            Tree(root)
        }
    }

    impl Drop for Tree {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn markers_are_stripped_and_the_rest_kept() {
        let text = "a\n    // SKELETON: todo!()\n  // BEGIN SOLUTION\nb\n// END SOLUTION\n\
                    // BEGIN SOLUTIONS are not markers\n// SKELETONS neither";
        assert_eq!(
            strip_markers(text),
            "a\nb\n// BEGIN SOLUTIONS are not markers\n// SKELETONS neither"
        );
    }

    #[test]
    fn dedent_removes_the_shared_indentation_only() {
        assert_eq!(dedent("    a\n\n      b\n    c"), "a\n\n  b\nc");
        assert_eq!(dedent("\ta\n\t\tb"), "a\n\tb");
        assert_eq!(dedent("a\n    b"), "a\n    b");
        // Blank lines, even with stray spaces, neither count nor keep their spaces.
        assert_eq!(dedent("    a\n  \n    b"), "a\n\nb");
    }

    #[test]
    fn an_anchored_include_shows_the_solution_dedented_without_markers() {
        let tree = Tree::new("expand");
        let page = tree.0.join("book/src/ch05_sync/solutions.md");
        let text = "```rust\n{{#include ../../../src/lock.rs:release}}\n```\n\
                    \\{{#include ../../../src/lock.rs:release}} {{#playground x.rs}}\n";
        let out = expand(&tree.0, &page, text).unwrap();
        assert_eq!(
            out,
            "```rust\n\
             /// Releases the lock.\n\
             pub fn release(&self) -> Result<(), SyncError> {\n    \
                 let word = &self.state.word;\n\
             \n    \
                 if word.swap(0, Release) == 2 {\n        \
                     wake_one(word);\n    \
                 }\n    \
                 Ok(())\n\
             }\n\
             ```\n\
             \\{{#include ../../../src/lock.rs:release}} {{#playground x.rs}}\n"
        );
    }

    #[test]
    fn a_broken_include_is_reported_with_its_place() {
        let tree = Tree::new("broken");
        let page = tree.0.join("book/src/ch05_sync/solutions.md");
        let text =
            "a\n{{#include ../../../src/lock.rs:relase}}\n{{#include ../../../src/nope.rs}}\n";
        let problems = expand(&tree.0, &page, text).unwrap_err();
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(
            problems[0].starts_with("book/src/ch05_sync/solutions.md:2: "),
            "{problems:?}"
        );
        assert!(problems[0].contains("no `ANCHOR: relase`"), "{problems:?}");
        assert!(
            problems[1].contains("cannot read src/nope.rs"),
            "{problems:?}"
        );
    }

    #[test]
    fn an_include_of_nothing_but_markers_is_empty() {
        let tree = Tree::new("empty");
        fs::write(
            tree.0.join("src/only.rs"),
            "// ANCHOR: a\n    // BEGIN SOLUTION\n    // END SOLUTION\n// ANCHOR_END: a\n",
        )
        .unwrap();
        let page = tree.0.join("book/src/p.md");
        fs::write(&page, "{{#include ../../src/only.rs:a}}\n").unwrap();
        let report = check(&tree.0, &tree.0.join("book/src"));
        assert_eq!(report.checked, 1);
        assert_eq!(report.problems.len(), 1, "{:?}", report.problems);
        assert!(report.problems[0].contains("includes nothing but blank lines"));
    }
}
