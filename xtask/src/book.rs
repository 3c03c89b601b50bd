//! Builds the book with mdBook's library, after checking its includes, with the
//! workbook's own preprocessor in front of mdBook's: it expands `{{#include}}` (without
//! the one-source markers, dedented) and `{{#figure}}` (a bench's figure).

use std::collections::BTreeSet;
use std::fmt::{self, Write as _};
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{LazyLock, Once};

use mdbook_driver::book::{Book, BookItem};
use mdbook_driver::builtin_preprocessors::{IndexPreprocessor, LinkPreprocessor};
use mdbook_driver::config::Config;
use mdbook_driver::errors::{Error, Result as MdResult};
use mdbook_driver::MDBook;
use mdbook_preprocessor::{Preprocessor, PreprocessorContext};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Metadata};

use regex::Regex;

use crate::chapters::{self, relative};
use crate::figures::{self, Figures};
use crate::includes;
use crate::judge::Problems;
use crate::performance;
use crate::results::Results;

/// `cargo xtask book`.
pub fn run(root: &Path) -> Result<(), String> {
    let index = build(root)?;
    println!("book built: {}", index.display());
    Ok(())
}

/// Checks the includes, builds the book, and returns the path of its `index.html`.
pub fn build(root: &Path) -> Result<PathBuf, String> {
    let book_dir = root.join("book");
    let manifest = book_dir.join("book.toml");
    if !manifest.exists() {
        return Err(format!(
            "{} not found: there is no book to build",
            relative(root, &manifest)
        ));
    }
    let mut config = Config::from_disk(&manifest)
        .map_err(|e| format!("{}: {e:#}", relative(root, &manifest)))?;
    config
        .update_from_env()
        .map_err(|e| format!("mdBook settings from the environment: {e:#}"))?;
    // mdBook would otherwise write an empty page for every SUMMARY.md entry whose file
    // is missing; a build must not change the sources, and a missing page is an error.
    config.build.create_missing = false;
    let src = book_dir.join(&config.book.src);
    let report = includes::check(root, &src);
    if !report.problems.is_empty() {
        return Err(format!(
            "{} of {} includes in {} are broken:\n  {}",
            report.problems.len(),
            report.checked,
            relative(root, &src),
            report.problems.join("\n  ")
        ));
    }
    let figures = Figures::load(root).map_err(|problems| {
        format!("the figures files are broken:\n  {}", problems.join("\n  "))
    })?;
    let results = Results::load(root, &root.join("book/figures"))
        .map_err(|problems| format!("the figures files are broken:\n  {problems}"))?;
    // The whole run as one file beside the page that draws it.
    let results_json =
        serde_json::to_string_pretty(&results.to_json(false, None)).map_err(|e| e.to_string())?;
    show_mdbook_warnings();
    // Ours first, then mdBook's own two in their usual order: mdBook's would otherwise
    // expand the includes before ours could see where they are.
    config.build.use_default_preprocessors = false;
    let mut book = MDBook::load_with_config(&book_dir, config)
        .map_err(|e| format!("loading the book: {e:#}"))?;
    book.with_preprocessor(Workbook {
        root: root.to_owned(),
        figures,
        results,
    })
    .with_preprocessor(LinkPreprocessor::new())
    .with_preprocessor(IndexPreprocessor::new());
    book.build()
        .map_err(|e| format!("building the book: {e:#}"))?;
    let html = book.build_dir_for("html");
    fs::write(html.join("results.json"), results_json + "\n")
        .map_err(|e| format!("writing results.json into the book: {e}"))?;
    Ok(html.join("index.html"))
}

/// `cargo xtask check`'s book steps beyond the includes: the figures (see
/// [`figures::check`]) and the layout of every chapter's pages ([`check_pages`]).
pub fn check(root: &Path) -> Problems {
    let mut found = figures::check(root);
    found.extend(check_pages(root));
    found
}

/// The first and smallest time estimate an exercise may have, in minutes.
const MINUTES: std::ops::RangeInclusive<u32> = 10..=20;

/// One `## Exercise N: title` section of a chapter's pages.
#[derive(Debug, PartialEq, Eq)]
pub struct ExerciseSection {
    pub number: u32,
    pub title: String,
    /// The heading's line, one-based.
    pub line: usize,
    /// N of the `*About N minutes.*` that must open the section's first paragraph.
    pub minutes: Option<u32>,
    /// The K and the text of each `<summary>Hint K: text</summary>`, in order.
    pub hints: Vec<(u32, String)>,
}

/// The exercise sections of one page, in order (see `BOOK.md`: the heading, then a
/// paragraph that opens with the time estimate, then hints in `<details>` blocks). A
/// section runs to the next heading of level 1 or 2.
pub fn exercise_sections(text: &str) -> Vec<ExerciseSection> {
    static HEADING: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"^## Exercise (\d+): (.+)$").expect("valid regex"));
    static MINUTES_RE: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"^\*About (\d+) minutes\.\*").expect("valid regex"));
    static HINT: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"<summary>Hint (\d+): (.*?)</summary>").expect("valid regex"));
    let lines: Vec<&str> = text.lines().collect();
    let mut sections: Vec<ExerciseSection> = Vec::new();
    // Whether the last section is still open: it ends at the next heading of level 1 or 2.
    let mut open = false;
    let mut fenced = false;
    for (index, line) in lines.iter().enumerate() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
        }
        if fenced {
            continue;
        }
        if line.starts_with("# ") || line.starts_with("## ") {
            open = false;
            if let Some(caps) = HEADING.captures(line) {
                let first = lines[index + 1..].iter().find(|l| !l.trim().is_empty());
                sections.push(ExerciseSection {
                    number: caps[1].parse().unwrap_or(0),
                    title: caps[2].trim().to_owned(),
                    line: index + 1,
                    minutes: first
                        .and_then(|l| MINUTES_RE.captures(l))
                        .and_then(|caps| caps[1].parse().ok()),
                    hints: Vec::new(),
                });
                open = true;
            }
            continue;
        }
        if let Some(section) = sections.last_mut().filter(|_| open) {
            for caps in HINT.captures_iter(line) {
                let k = caps[1].parse().unwrap_or(0);
                section.hints.push((k, caps[2].trim().to_owned()));
            }
        }
    }
    sections
}

/// The pages of chapter `name` that a student reads, in the order of SUMMARY.md, as
/// paths under `book/src`: the landing page `chNN_slug.md`, then the sub-pages nested
/// under it, `solutions.md` left out (see `BOOK.md`). The exercise sections are in
/// these pages; `cargo xtask hint` and friends read them with [`exercise_sections`].
pub fn reading_pages(root: &Path, name: &str) -> Result<Vec<String>, String> {
    let summary = summary_entries(root)?;
    let landing = format!("{name}.md");
    let solutions = format!("{name}/solutions.md");
    let nested = nested_under(&summary, &landing)
        .ok_or_else(|| format!("book/src/SUMMARY.md does not list {landing}"))?;
    Ok(std::iter::once(landing.as_str())
        .chain(nested)
        .filter(|page| *page != solutions)
        .map(str::to_owned)
        .collect())
}

/// The pages SUMMARY.md nests under `landing`, in order; `None` when it does not list
/// `landing`.
fn nested_under<'a>(summary: &'a [(usize, String)], landing: &str) -> Option<Vec<&'a str>> {
    let at = summary.iter().position(|(_, path)| path == landing)?;
    let depth = summary[at].0;
    Some(
        summary[at + 1..]
            .iter()
            .take_while(|(indent, _)| *indent > depth)
            .map(|(_, path)| path.as_str())
            .collect(),
    )
}

/// The pages listed in `book/src/SUMMARY.md`, as (indentation, path under book/src).
fn summary_entries(root: &Path) -> Result<Vec<(usize, String)>, String> {
    static ENTRY: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"^(\s*)[-*] \[[^\]]*\]\(([^)]+)\)").expect("valid regex"));
    let path = root.join("book/src/SUMMARY.md");
    let text = fs::read_to_string(&path).map_err(|e| format!("{}: {e}", relative(root, &path)))?;
    Ok(text
        .lines()
        .filter_map(|line| ENTRY.captures(line))
        .map(|caps| (caps[1].len(), caps[2].to_owned()))
        .collect())
}

/// Every chapter's pages follow `BOOK.md`: a landing page with its sub-pages nested
/// under it in SUMMARY.md and `solutions.md` last; every exercise of the solution crate
/// has exactly one `## Exercise N: ...` section, in order, opening with a time estimate
/// of 10 to 20 minutes, hints numbered from 1; `solutions.md` has a solution for each;
/// and no page but a `solutions.md` includes code from `solutions/`.
pub fn check_pages(root: &Path) -> Problems {
    let mut found = Problems::default();
    let chapters = chapters::discover(root).unwrap_or_default();
    let summary = summary_entries(root).unwrap_or_else(|problem| {
        found.add(problem);
        Vec::new()
    });
    for chapter in &chapters {
        for problem in chapter_pages(root, &chapter.name, &summary) {
            found.add(format!("{}: {problem}", chapter.name));
        }
    }
    let mut pages = Vec::new();
    chapters::files_with_extension(&root.join("book/src"), "md", &mut pages);
    pages.sort();
    for page in pages.iter().filter(|page| !page.ends_with("solutions.md")) {
        let text = fs::read_to_string(page).unwrap_or_default();
        for directive in includes::directives(&text) {
            if directive.kind.contains("include") && directive.rest.contains("solutions/") {
                found.add(format!(
                    "{}: a solution outside a solutions.md page; include the student's \
                     file from chapters/ here, and the solution in the chapter's solutions.md",
                    directive.place(root, page, &text)
                ));
            }
        }
    }
    println!(
        "pages      {} chapter(s), {} page(s) in book/src, {} problem(s)",
        chapters.len(),
        pages.len(),
        found.0.len()
    );
    found.print_indented(usize::MAX);
    found
}

/// The layout problems of one chapter's pages.
fn chapter_pages(root: &Path, name: &str, summary: &[(usize, String)]) -> Vec<String> {
    let mut problems = Vec::new();
    let landing = format!("{name}.md");
    let Some(nested) = nested_under(summary, &landing) else {
        return vec![format!("book/src/SUMMARY.md does not list {landing}")];
    };
    let solutions = format!("{name}/solutions.md");
    if nested.last() != Some(&solutions.as_str()) {
        problems.push(format!(
            "book/src/SUMMARY.md must nest {solutions} under {landing}, last"
        ));
    }
    let mut on_disk = Vec::new();
    chapters::files_with_extension(&root.join("book/src").join(name), "md", &mut on_disk);
    for page in &on_disk {
        let under_src = relative(&root.join("book/src"), page);
        if !nested.contains(&under_src.as_str()) {
            problems.push(format!(
                "book/src/{under_src} is not nested under {landing} in SUMMARY.md"
            ));
        }
    }

    let mut seen = Vec::new();
    for page in reading_pages(root, name).unwrap_or_default() {
        let path = root.join("book/src").join(&page);
        let text = fs::read_to_string(&path).unwrap_or_default();
        for section in exercise_sections(&text) {
            let here = format!("book/src/{page}:{}", section.line);
            match section.minutes {
                None => problems.push(format!(
                    "{here}: exercise {} has no time estimate; its first paragraph must \
                     open with `*About N minutes.*`",
                    section.number
                )),
                Some(m) if !MINUTES.contains(&m) => problems.push(format!(
                    "{here}: exercise {} is estimated at {m} minutes; keep exercises to \
                     {} to {} minutes (split a longer one)",
                    section.number,
                    MINUTES.start(),
                    MINUTES.end()
                )),
                Some(_) => {}
            }
            for (position, (k, _)) in section.hints.iter().enumerate() {
                if *k as usize != position + 1 {
                    problems.push(format!(
                        "{here}: exercise {}: hint {k} is its hint number {}",
                        section.number,
                        position + 1
                    ));
                    break;
                }
            }
            seen.push((section.number, here));
        }
    }
    let expected = exercise_numbers(&root.join("solutions").join(name));
    let numbers: Vec<u32> = seen.iter().map(|(n, _)| *n).collect();
    let mut sorted = numbers.clone();
    sorted.sort_unstable();
    sorted.dedup();
    if sorted.len() != numbers.len() {
        problems.push(format!(
            "an exercise has more than one `## Exercise N:` heading: {numbers:?}"
        ));
    } else if numbers != sorted {
        problems.push(format!("the exercises are out of order: {numbers:?}"));
    }
    let book: BTreeSet<u32> = numbers.iter().copied().collect();
    if book != expected {
        problems.push(format!(
            "the pages have exercises {book:?}, the solution crate's files `//! Exercise N` \
             {expected:?}"
        ));
    }

    let solutions_text =
        fs::read_to_string(root.join("book/src").join(&solutions)).unwrap_or_default();
    let solved: Vec<u32> = solutions_text
        .lines()
        .filter_map(|line| line.strip_prefix("## Solution to exercise "))
        .filter_map(|rest| rest.split(':').next()?.parse().ok())
        .collect();
    if solved != expected.iter().copied().collect::<Vec<_>>() {
        problems.push(format!(
            "book/src/{solutions} solves exercises {solved:?}; expected one \
             `## Solution to exercise N: ...` for each of {expected:?}, in order"
        ));
    }
    problems
}

/// The N of every `//! Exercise N` file of a crate.
fn exercise_numbers(crate_dir: &Path) -> BTreeSet<u32> {
    let mut files = Vec::new();
    chapters::files_with_extension(&crate_dir.join("src"), "rs", &mut files);
    files
        .iter()
        .filter_map(|file| {
            let text = fs::read_to_string(file).ok()?;
            let rest = text.lines().next()?.strip_prefix("//! Exercise ")?;
            rest.split(':').next()?.trim().parse().ok()
        })
        .collect()
}

/// The workbook's preprocessor: `{{#include}}` as the reader should see it,
/// `{{#figure chapter.key}}`, and the "How fast is it?" page's `{{#performance ...}}`.
struct Workbook {
    root: PathBuf,
    figures: Figures,
    results: Results,
}

impl Preprocessor for Workbook {
    fn name(&self) -> &str {
        "workbook"
    }

    fn run(&self, ctx: &PreprocessorContext, mut book: Book) -> MdResult<Book> {
        let src = ctx.root.join(&ctx.config.book.src);
        let mut problems = Vec::new();
        book.for_each_mut(|item| {
            let BookItem::Chapter(chapter) = item else {
                return;
            };
            let Some(path) = &chapter.path else {
                return;
            };
            let page = src.join(path);
            let expanded = includes::expand(&self.root, &page, &chapter.content)
                .and_then(|text| figures::expand(&self.root, &page, &text, &self.figures))
                .and_then(|text| performance::expand(&self.root, &page, &text, &self.results));
            match expanded {
                Ok(text) => chapter.content = text,
                Err(found) => problems.extend(found),
            }
        });
        if problems.is_empty() {
            Ok(book)
        } else {
            Err(Error::msg(problems.join("\n  ")))
        }
    }
}

/// mdBook reports through `tracing`; without a subscriber its warnings (an include
/// it could not read, a bad link) would vanish.
fn show_mdbook_warnings() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // Fails only when a subscriber is already set, which is then just as good.
        let _ = tracing::subscriber::set_global_default(WarningsToStderr);
    });
}

/// A subscriber that prints warnings and errors, and nothing else.
struct WarningsToStderr;

impl tracing::Subscriber for WarningsToStderr {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        // More verbose levels compare greater.
        *metadata.level() <= Level::WARN
    }

    fn max_level_hint(&self) -> Option<tracing::level_filters::LevelFilter> {
        Some(tracing::level_filters::LevelFilter::WARN)
    }

    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }

    fn record(&self, _: &Id, _: &Record<'_>) {}

    fn record_follows_from(&self, _: &Id, _: &Id) {}

    fn event(&self, event: &Event<'_>) {
        struct Message(String);
        impl Visit for Message {
            fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
                if field.name() == "message" {
                    let _ = write!(self.0, "{value:?}");
                } else {
                    let _ = write!(self.0, " {}={value:?}", field.name());
                }
            }
        }
        let mut message = Message(String::new());
        event.record(&mut message);
        let level = event.metadata().level().as_str().to_lowercase();
        eprintln!("mdbook {level}: {}", message.0);
    }

    fn enter(&self, _: &Id) {}

    fn exit(&self, _: &Id) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exercise_sections_have_their_estimate_and_hints() {
        let page = "\
# Chapter

## Exercise 1: the lock

*About 15 minutes.* File: `x.rs`.

<details>
<summary>Hint 1: a nudge</summary>
</details>
<details>
<summary>Hint 2: the API</summary>
</details>

```text
## Exercise 9: inside a code block, no heading
```

### A sub-heading stays in the section
<summary>Hint 3: the shape</summary>

## Exercise 2: no estimate

The goal.

## Afterwards
<summary>Hint 1: outside any exercise</summary>
";
        let sections = exercise_sections(page);
        assert_eq!(
            sections,
            [
                ExerciseSection {
                    number: 1,
                    title: "the lock".into(),
                    line: 3,
                    minutes: Some(15),
                    hints: vec![
                        (1, "a nudge".into()),
                        (2, "the API".into()),
                        (3, "the shape".into())
                    ],
                },
                ExerciseSection {
                    number: 2,
                    title: "no estimate".into(),
                    line: 21,
                    minutes: None,
                    hints: vec![],
                },
            ]
        );
    }
}

#[cfg(test)]
mod pages_tests {
    use super::*;

    /// A workspace with one chapter, `ch01_x`, of two exercises, removed on drop.
    struct Tree(PathBuf);

    impl Tree {
        fn new(name: &str) -> Tree {
            let root = std::env::temp_dir().join(format!("xtask-{name}-{}", std::process::id()));
            let _ = fs::remove_dir_all(&root);
            for dir in ["chapters/ch01_x", "solutions/ch01_x/src", "book/src/ch01_x"] {
                fs::create_dir_all(root.join(dir)).unwrap();
            }
            let tree = Tree(root);
            tree.write("solutions/ch01_x/src/a.rs", "//! Exercise 1: a.\n");
            tree.write("solutions/ch01_x/src/b.rs", "//! Exercise 2: b.\n");
            tree.write("solutions/ch01_x/src/given.rs", "//! Given: helpers.\n");
            tree.write(
                "book/src/SUMMARY.md",
                "# Summary\n\n[Intro](intro.md)\n\n- [X](ch01_x.md)\n    - [A](ch01_x/01-a.md)\n    \
                 - [B](ch01_x/02-b.md)\n    - [Solutions](ch01_x/solutions.md)\n- [Later]()\n",
            );
            tree.write("book/src/ch01_x.md", "# X\n");
            tree.write(
                "book/src/ch01_x/01-a.md",
                "# A\n\n## Exercise 1: a\n\n*About 10 minutes.* File: `a.rs`.\n\n\
                 <summary>Hint 1: nudge</summary>\n",
            );
            tree.write(
                "book/src/ch01_x/02-b.md",
                "# B\n\n## Exercise 2: b\n\n*About 15 minutes.* File: `b.rs`.\n",
            );
            tree.write(
                "book/src/ch01_x/solutions.md",
                "# Solutions\n\n## Solution to exercise 1: a\n\n\
                 {{#include ../../../solutions/ch01_x/src/a.rs}}\n\n## Solution to exercise 2: b\n",
            );
            tree
        }

        fn write(&self, path: &str, text: &str) {
            fs::write(self.0.join(path), text).unwrap();
        }

        fn problems(&self) -> Vec<String> {
            check_pages(&self.0).0
        }
    }

    impl Drop for Tree {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn a_chapter_in_the_layout_passes() {
        let tree = Tree::new("pages-ok");
        assert_eq!(tree.problems(), Vec::<String>::new());
        assert_eq!(
            reading_pages(&tree.0, "ch01_x").unwrap(),
            ["ch01_x.md", "ch01_x/01-a.md", "ch01_x/02-b.md"]
        );
    }

    #[test]
    fn every_departure_from_the_layout_is_named() {
        let cases: [(&str, &str, &str); 7] = [
            (
                "book/src/ch01_x/02-b.md",
                "# B\n\n## Exercise 2: b\n\nNo estimate.\n",
                "02-b.md:3: exercise 2 has no time estimate",
            ),
            (
                "book/src/ch01_x/02-b.md",
                "# B\n\n## Exercise 2: b\n\n*About 45 minutes.*\n",
                "exercise 2 is estimated at 45 minutes",
            ),
            (
                "book/src/ch01_x/02-b.md",
                "# B\n\n## Exercise 3: b\n\n*About 15 minutes.*\n",
                "the pages have exercises {1, 3}, the solution crate's files",
            ),
            (
                "book/src/ch01_x/02-b.md",
                "# B\n\n## Exercise 2: b\n\n*About 15 minutes.*\n\
                 <summary>Hint 2: the API</summary>\n",
                "exercise 2: hint 2 is its hint number 1",
            ),
            (
                "book/src/ch01_x/02-b.md",
                "# B\n\n## Exercise 2: b\n\n*About 15 minutes.*\n\
                 {{#include ../../../solutions/ch01_x/src/b.rs}}\n",
                "02-b.md:6: {{#include ../../../solutions/ch01_x/src/b.rs}}: a solution outside",
            ),
            (
                "book/src/ch01_x/03-orphan.md",
                "# Not in SUMMARY.md\n",
                "book/src/ch01_x/03-orphan.md is not nested under ch01_x.md",
            ),
            (
                "book/src/ch01_x/solutions.md",
                "# Solutions\n\n## Solution to exercise 2: b\n",
                "solves exercises [2]; expected one `## Solution to exercise N: ...` for each of {1, 2}",
            ),
        ];
        for (index, (file, text, expected)) in cases.into_iter().enumerate() {
            let tree = Tree::new(&format!("pages-bad-{index}"));
            tree.write(file, text);
            let problems = tree.problems();
            assert!(
                problems.len() == 1 && problems[0].contains(expected),
                "case {index}: expected one problem containing {expected:?}, got {problems:#?}"
            );
        }
    }
}
