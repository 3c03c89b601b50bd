//! `cargo xtask hint <chapter> <exercise> [level]`: the book's hints, one at a time.
//!
//! The hints live only in the book (`<summary>Hint K: ...</summary>` blocks under an
//! exercise's heading); this reads them there. Without a level it prints the next hint
//! not yet shown, and remembers it in `target/xtask/hints-shown.txt`.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use regex::Regex;

use crate::cargo::target_dir;
use crate::chapters;
use crate::exercises::{self, BookExercise};

/// What the command line asked for.
pub struct Args {
    chapter: String,
    exercise: u32,
    level: Option<usize>,
}

impl Args {
    /// `<chapter> <exercise> [level]`: `ch05` or `ch05_sync`; `3` or `ex3`.
    pub fn parse(args: &[String]) -> Result<Args, String> {
        let [chapter, exercise, rest @ ..] = args else {
            return Err("hint needs a chapter and an exercise: `hint ch05 3`".to_owned());
        };
        let exercise = exercise_number(exercise)?;
        let level = match rest {
            [] => None,
            [level] => Some(
                level
                    .parse()
                    .ok()
                    .filter(|l| *l > 0)
                    .ok_or_else(|| format!("hint level `{level}`: not 1, 2, 3..."))?,
            ),
            _ => return Err("hint takes a chapter, an exercise and a level at most".to_owned()),
        };
        Ok(Args {
            chapter: chapter.clone(),
            exercise,
            level,
        })
    }
}

/// `3` for `3`, `ex3` or `exercise3`.
pub fn exercise_number(text: &str) -> Result<u32, String> {
    text.trim_start_matches("exercise")
        .trim_start_matches("ex")
        .parse()
        .map_err(|_| format!("`{text}` is not an exercise: give its number, like 3 or ex3"))
}

/// `cargo xtask hint`.
pub fn run(root: &Path, args: &Args) -> Result<(), String> {
    let chapter = chapters::select(
        chapters::discover(root)?,
        std::slice::from_ref(&args.chapter),
    )?
    .into_iter()
    .next()
    .ok_or("no such chapter")?;
    print!("{}", show(root, &chapter.name, args.exercise, args.level)?);
    Ok(())
}

/// The text of hint `level` (the next one not yet shown when `None`) of exercise
/// `number` of `chapter`, ready to print; records it as shown.
pub fn show(
    root: &Path,
    chapter: &str,
    number: u32,
    level: Option<usize>,
) -> Result<String, String> {
    let exercises = exercises::read(root, chapter)?;
    let Some(exercise) = exercises.get(&number) else {
        let known: Vec<String> = exercises.keys().map(u32::to_string).collect();
        return Err(format!(
            "the book has no exercise {number} in {chapter} (it has: {})",
            if known.is_empty() {
                "none".to_owned()
            } else {
                known.join(", ")
            }
        ));
    };
    let count = exercise.hints.len();
    if count == 0 {
        return Ok(format!(
            "The book gives no hints for exercise {number} of {chapter} yet; its page: {}\n",
            exercise.page
        ));
    }
    let mut shown = Shown::load(root);
    let key = format!("{chapter} ex{number}");
    let already = shown.get(&key);
    let level = match level {
        Some(level) if level > count => {
            return Err(format!(
                "exercise {number} of {chapter} has {count} hint(s), not {level}"
            ))
        }
        Some(level) => level,
        None => (already + 1).min(count),
    };
    shown.set(&key, already.max(level));
    shown.save(root)?;
    Ok(render(root, chapter, exercise, level))
}

fn render(root: &Path, chapter: &str, exercise: &BookExercise, level: usize) -> String {
    let count = exercise.hints.len();
    let (title, text) = &exercise.hints[level - 1];
    let include = Regex::new(r"\{\{#include\s+([^}\s]+)\s*\}\}").expect("valid regex");
    let text = include.replace_all(text, "[code from $1: see it in the book]");
    let mut out = format!(
        "Hint {level} of {count}, {chapter} exercise {} ({}): {title}\n\n{}\n\n",
        exercise.number,
        exercise.title,
        text.trim()
    );
    let short = chapter.split('_').next().unwrap_or(chapter);
    if level < count {
        out.push_str(&format!(
            "More: `cargo xtask hint {short} {}` gives hint {}.\n",
            exercise.number,
            level + 1
        ));
    } else {
        let page = format!("book/src/{chapter}/solutions.md");
        let solutions = root.join(&page).exists().then_some(page);
        out.push_str(&match solutions {
            Some(page) => format!("That was the last hint; the solution is in {page}.\n"),
            None => "That was the last hint; the book's page has the solution.\n".to_owned(),
        });
    }
    out
}

/// Which hints were shown: the highest level per `chNN_slug exN`.
struct Shown {
    levels: BTreeMap<String, usize>,
}

impl Shown {
    fn path(root: &Path) -> PathBuf {
        target_dir(root).join("xtask/hints-shown.txt")
    }

    fn load(root: &Path) -> Shown {
        let text = fs::read_to_string(Shown::path(root)).unwrap_or_default();
        let levels = text
            .lines()
            .filter_map(|line| {
                let (key, level) = line.rsplit_once(' ')?;
                Some((key.to_owned(), level.parse().ok()?))
            })
            .collect();
        Shown { levels }
    }

    fn get(&self, key: &str) -> usize {
        self.levels.get(key).copied().unwrap_or(0)
    }

    fn set(&mut self, key: &str, level: usize) {
        self.levels.insert(key.to_owned(), level);
    }

    fn save(&self, root: &Path) -> Result<(), String> {
        let path = Shown::path(root);
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
        }
        let text: String = self
            .levels
            .iter()
            .map(|(key, level)| format!("{key} {level}\n"))
            .collect();
        fs::write(&path, text).map_err(|e| format!("writing {}: {e}", path.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shows_the_next_hint_then_stays_on_the_last() {
        let root = std::env::temp_dir().join(format!("xtask-hint-{}", std::process::id()));
        fs::create_dir_all(root.join("book/src")).unwrap();
        fs::write(
            root.join("book/src/ch09_x.md"),
            "## Exercise 2: two\n\n*About 5 minutes.*\n\n<details>\n<summary>Hint 1: a \
             nudge</summary>\n\nFirst.\n</details>\n<details>\n<summary>Hint 2: the \
             code</summary>\n\n{{#include ../../chapters/ch09_x/src/a.rs:f}}\n</details>\n",
        )
        .unwrap();
        let shown = |level| show(&root, "ch09_x", 2, level).unwrap();
        let first = shown(None);
        assert!(first.starts_with("Hint 1 of 2, ch09_x exercise 2 (two): a nudge\n\nFirst."));
        assert!(
            first.contains("`cargo xtask hint ch09 2` gives hint 2"),
            "{first}"
        );
        let second = shown(None);
        assert!(second.starts_with("Hint 2 of 2"), "{second}");
        assert!(second.contains("[code from ../../chapters/ch09_x/src/a.rs:f: see it"));
        assert!(second.contains("That was the last hint; the book's page"));
        put(&root, "book/src/ch09_x/solutions.md", "");
        assert!(shown(None).contains("the solution is in book/src/ch09_x/solutions.md"));
        assert!(shown(None).starts_with("Hint 2 of 2"), "stays on the last");
        assert!(
            shown(Some(1)).starts_with("Hint 1 of 2"),
            "a level shows that one"
        );
        assert!(
            shown(None).starts_with("Hint 2 of 2"),
            "and forgets nothing"
        );
        assert!(show(&root, "ch09_x", 2, Some(3))
            .unwrap_err()
            .contains("2 hint(s)"));
        assert!(show(&root, "ch09_x", 7, None)
            .unwrap_err()
            .contains("it has: 2"));
        fs::remove_dir_all(&root).unwrap();
    }

    fn put(root: &Path, rel: &str, text: &str) {
        fs::create_dir_all(root.join(rel).parent().unwrap()).unwrap();
        fs::write(root.join(rel), text).unwrap();
    }

    #[test]
    fn reads_exercise_numbers() {
        assert_eq!(exercise_number("3"), Ok(3));
        assert_eq!(exercise_number("ex12"), Ok(12));
        assert!(exercise_number("x").is_err());
    }
}
