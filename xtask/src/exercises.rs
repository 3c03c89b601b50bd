//! The exercises as the book describes them: title, time estimate and hints, read from
//! a chapter's pages (`book/src/chNN_slug.md` and `book/src/chNN_slug/*.md`, not
//! `solutions.md`). The format is the book's (see `/work/notes/BOOK.md` and README):
//!
//! ```markdown
//! ## Exercise 3: the semaphore
//!
//! *About 15 minutes.* File: ...
//!
//! <details>
//! <summary>Hint 1: a nudge</summary>
//! ...
//! </details>
//! ```

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use regex::Regex;

use crate::chapters::relative;

/// One exercise's section of the book.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BookExercise {
    /// `3` for `## Exercise 3: ...`.
    pub number: u32,
    /// What follows `## Exercise 3: `.
    pub title: String,
    /// `N` of `*About N minutes.*`, if the section has one.
    pub minutes: Option<u32>,
    /// The hints, in order: (`the API` of `Hint 2: the API`, its text).
    pub hints: Vec<(String, String)>,
    /// The page it is on, relative to the workspace root.
    pub page: String,
}

/// `About 15 min` for a table, `-` when the page gives no estimate yet.
pub fn minutes_cell(exercise: Option<&BookExercise>) -> String {
    match exercise.and_then(|e| e.minutes) {
        Some(minutes) => format!("{minutes} min"),
        None => "-".to_owned(),
    }
}

/// The pages of chapter `name`: its landing page and its sub-pages, solutions last
/// and left out.
pub fn pages(root: &Path, name: &str) -> Vec<PathBuf> {
    let src = root.join("book/src");
    let mut pages = vec![src.join(format!("{name}.md"))];
    let mut sub = Vec::new();
    crate::chapters::files_with_extension(&src.join(name), "md", &mut sub);
    sub.retain(|p| p.file_name().is_none_or(|f| f != "solutions.md"));
    sub.sort();
    pages.extend(sub);
    pages.retain(|p| p.is_file());
    pages
}

/// Every exercise of chapter `name`, by id (`ex1`, ...). An exercise whose heading
/// appears twice is an error, named with both pages.
pub fn read(root: &Path, name: &str) -> Result<BTreeMap<u32, BookExercise>, String> {
    let mut found: BTreeMap<u32, BookExercise> = BTreeMap::new();
    for page in pages(root, name) {
        let text = fs::read_to_string(&page).map_err(|e| format!("{}: {e}", page.display()))?;
        for exercise in parse(&text, &relative(root, &page)) {
            if let Some(first) = found.get(&exercise.number) {
                return Err(format!(
                    "exercise {} of {name} has two headings: in {} and {}",
                    exercise.number, first.page, exercise.page
                ));
            }
            found.insert(exercise.number, exercise);
        }
    }
    Ok(found)
}

/// The exercise sections of one page. A section runs from its heading to the next
/// `## ` heading.
pub fn parse(text: &str, page: &str) -> Vec<BookExercise> {
    let heading = Regex::new(r"^## Exercise (\d+): (.+)$").expect("valid regex");
    let minutes = Regex::new(r"^\*About (\d+) minutes\.\*").expect("valid regex");
    let summary =
        Regex::new(r"^\s*<summary>\s*Hint (\d+):\s*(.*?)\s*</summary>\s*$").expect("valid regex");
    let mut exercises: Vec<BookExercise> = Vec::new();
    let mut current: Option<BookExercise> = None;
    // The hint being read: its title and text so far.
    let mut hint: Option<(String, String)> = None;
    // Whether the first paragraph after the heading is still to come.
    let mut first_paragraph = false;
    let mut in_code = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            in_code = !in_code;
        }
        if !in_code && line.starts_with("## ") {
            if let Some(done) = current.take() {
                exercises.push(done);
            }
            hint = None;
            if let Some(caps) = heading.captures(line) {
                current = Some(BookExercise {
                    number: caps[1].parse().unwrap_or(0),
                    title: caps[2].trim().to_owned(),
                    page: page.to_owned(),
                    ..BookExercise::default()
                });
                first_paragraph = true;
            }
            continue;
        }
        let Some(exercise) = current.as_mut() else {
            continue;
        };
        if first_paragraph && !line.trim().is_empty() {
            first_paragraph = false;
            if let Some(caps) = minutes.captures(line.trim_start()) {
                exercise.minutes = caps[1].parse().ok();
            }
        }
        if let Some((title, body)) = hint.as_mut() {
            if !in_code && line.trim() == "</details>" {
                exercise
                    .hints
                    .push((std::mem::take(title), body.trim().to_owned()));
                hint = None;
            } else {
                body.push_str(line);
                body.push('\n');
            }
            continue;
        }
        if let Some(caps) = summary.captures(line) {
            hint = Some((caps[2].to_owned(), String::new()));
        }
    }
    if let Some(done) = current.take() {
        exercises.push(done);
    }
    exercises
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAGE: &str = "\
# Chapter

## Exercise 1: the name of a process

*About 10 minutes.* File: `chapters/ch01_setup/src/naming.rs`.

<details>
<summary>Hint 1: a nudge</summary>

Two cases.

</details>

<details>
<summary>Hint 2: the API</summary>

```rust,ignore
## not a heading
</details>
```
</details>

<details>
<summary>Solution</summary>
secret
</details>

## Exercise 2: numbering

No estimate here.

## Python's view

<details>
<summary>Hint 1: not an exercise's</summary>
x
</details>
";

    #[test]
    fn reads_titles_estimates_and_hints() {
        let exercises = parse(PAGE, "book/src/ch01_setup.md");
        assert_eq!(exercises.len(), 2);
        let first = &exercises[0];
        assert_eq!(
            (first.number, first.title.as_str(), first.minutes),
            (1, "the name of a process", Some(10))
        );
        assert_eq!(first.hints.len(), 2, "{:?}", first.hints);
        assert_eq!(first.hints[0], ("a nudge".into(), "Two cases.".into()));
        assert_eq!(first.hints[1].0, "the API");
        assert!(first.hints[1]
            .1
            .contains("## not a heading\n</details>\n```"));
        let second = &exercises[1];
        assert_eq!((second.number, second.minutes), (2, None));
        assert!(
            second.hints.is_empty(),
            "a later section's hints are not its own"
        );
        assert_eq!(minutes_cell(Some(first)), "10 min");
        assert_eq!(minutes_cell(Some(second)), "-");
        assert_eq!(minutes_cell(None), "-");
    }

    #[test]
    fn reads_every_page_of_a_chapter_but_the_solutions() {
        let root = std::env::temp_dir().join(format!("xtask-pages-{}", std::process::id()));
        let sub = root.join("book/src/ch09_x");
        fs::create_dir_all(&sub).unwrap();
        fs::write(root.join("book/src/ch09_x.md"), "# X\n").unwrap();
        fs::write(
            sub.join("01-a.md"),
            "## Exercise 2: b\n\n*About 5 minutes.*\n",
        )
        .unwrap();
        fs::write(sub.join("00-a.md"), "## Exercise 1: a\n").unwrap();
        fs::write(sub.join("solutions.md"), "## Exercise 3: not one\n").unwrap();
        let found = read(&root, "ch09_x").unwrap();
        assert_eq!(found.keys().copied().collect::<Vec<_>>(), [1, 2]);
        assert_eq!(found[&2].minutes, Some(5));
        assert_eq!(found[&2].page, "book/src/ch09_x/01-a.md");
        fs::write(sub.join("02-a.md"), "## Exercise 2: again\n").unwrap();
        let twice = read(&root, "ch09_x").unwrap_err();
        assert!(twice.contains("two headings"), "{twice}");
        fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn the_books_chapters_parse() {
        // Every exercise the real book describes has a title; hints are numbered 1, 2...
        let root = crate::chapters::workspace_root();
        for chapter in crate::chapters::discover(&root).unwrap() {
            let exercises = read(&root, &chapter.name).unwrap();
            for exercise in exercises.values() {
                assert!(
                    !exercise.title.is_empty(),
                    "{chapter:?}",
                    chapter = chapter.name
                );
            }
        }
    }
}
