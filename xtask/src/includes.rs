//! Checks the book's `{{#include}}`, `{{#rustdoc_include}}` and `{{#playground}}`
//! directives, because mdBook renders a misspelled anchor as an empty code block
//! without a word.
//!
//! The parsing follows mdBook 0.5.4's links preprocessor (`links.rs`, `take_lines.rs`).

use std::fs;
use std::path::{Component, Path, PathBuf};

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

/// Checks every `.md` file under `book_src`.
pub fn check(root: &Path, book_src: &Path) -> Report {
    let mut pages = Vec::new();
    crate::chapters::files_with_extension(book_src, "md", &mut pages);
    pages.sort();
    let mut report = Report {
        checked: 0,
        problems: Vec::new(),
    };
    let link = Regex::new(
        r"(?x)
        \\\{\{\#.*\}\}              # an escaped link, left alone
        | \{\{\s*\#([a-zA-Z0-9_]+)  # the link type
          \s+([^}]+)\}\}            # its path and properties",
    )
    .expect("valid regex");
    for page in pages {
        let Ok(text) = fs::read_to_string(&page) else {
            report
                .problems
                .push(format!("{}: unreadable", relative(root, &page)));
            continue;
        };
        let dir = page.parent().unwrap_or(book_src);
        for caps in link.captures_iter(&text) {
            let (Some(kind), Some(rest)) = (caps.get(1), caps.get(2)) else {
                continue;
            };
            if !["include", "rustdoc_include", "playground", "playpen"].contains(&kind.as_str()) {
                continue;
            }
            report.checked += 1;
            let whole = caps.get(0).expect("a match has a whole");
            let line = text[..whole.start()].matches('\n').count() + 1;
            let here = format!("{}:{line}: {}", relative(root, &page), whole.as_str());
            let Some(arg) = rest.as_str().split_whitespace().next() else {
                report.problems.push(format!("{here}: names no file"));
                continue;
            };
            let (file, part) = if kind.as_str().starts_with("play") {
                (arg, Part::Lines(None, None))
            } else {
                let mut pieces = arg.splitn(2, ':');
                let file = pieces.next().unwrap_or(arg);
                (file, parse_part(pieces.next()))
            };
            // Read as mdBook reads it (through any symlink), shown without the `..`s.
            let target = dir.join(file);
            let shown = relative(root, &normalise(&target));
            if let Err(problem) = resolve(&target, &shown, &part) {
                report.problems.push(format!("{here}: {problem}"));
            }
        }
    }
    report
}

/// Whether the directive includes non-empty text, and if not, why.
fn resolve(target: &Path, shown: &str, part: &Part) -> Result<(), String> {
    let text = fs::read_to_string(target).map_err(|e| format!("cannot read {shown}: {e}"))?;
    let included = match part {
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
            anchored(&text, anchor).map_err(|problem| format!("{problem} in {shown}"))?
        }
    };
    if included.trim().is_empty() {
        return Err("includes nothing but blank lines".to_owned());
    }
    Ok(())
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
    let start = Regex::new(r"ANCHOR:\s*(?P<name>[\w_-]+)").expect("valid regex");
    let end = Regex::new(r"ANCHOR_END:\s*(?P<name>[\w_-]+)").expect("valid regex");
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
