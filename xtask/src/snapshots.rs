//! Finds snapshots that no test uses, and insta's leftovers.
//!
//! insta 1.49 appends the path of every file snapshot an assertion reads to the file
//! named by `INSTA_SNAPSHOT_REFERENCES_FILE` (`memoize_snapshot_file` in its
//! `env.rs`); `cargo insta test --unreferenced` works the same way. The solutions' test
//! run sets it, so a snapshot missing from that list was not read by any test.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use crate::chapters::relative;

/// What the check found.
pub struct Report {
    /// How many committed snapshots it looked at.
    pub snapshots: usize,
    /// One line per problem.
    pub problems: Vec<String>,
}

/// Compares the `.snap` files under `root/tests` whose name starts with one of
/// `prefixes` (`ch01_setup__`) with the ones listed in `references`, and looks for
/// `.snap.new` and `.pending-snap` files anywhere in the workspace.
pub fn check(root: &Path, references: &Path, prefixes: &[String]) -> Report {
    let mut files = Vec::new();
    walk(&root.join("tests"), &mut files);
    let committed: Vec<&PathBuf> = files
        .iter()
        .filter(|p| p.extension().is_some_and(|ext| ext == "snap"))
        .filter(|p| {
            let name = p
                .file_name()
                .map(|n| n.to_string_lossy())
                .unwrap_or_default();
            prefixes
                .iter()
                .any(|prefix| name.starts_with(prefix.as_str()))
        })
        .collect();
    let used: BTreeSet<PathBuf> = fs::read_to_string(references)
        .unwrap_or_default()
        .lines()
        .map(|line| canonical(Path::new(line)))
        .collect();
    let mut problems: Vec<String> = committed
        .iter()
        .filter(|p| !used.contains(&canonical(p)))
        .map(|p| format!("{}: no test uses it", relative(root, p)))
        .collect();
    let mut everywhere = Vec::new();
    walk(root, &mut everywhere);
    problems.extend(
        everywhere
            .iter()
            .filter(|p| {
                let name = p.to_string_lossy();
                name.ends_with(".snap.new") || name.ends_with(".pending-snap")
            })
            .map(|p| {
                format!(
                    "{}: insta's leftover: review it with `cargo insta review` or delete it",
                    relative(root, p)
                )
            }),
    );
    Report {
        snapshots: committed.len(),
        problems,
    }
}

fn canonical(path: &Path) -> PathBuf {
    fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
}

/// Every file under `dir`, skipping build output and version control.
fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.filter_map(Result::ok) {
        let path = entry.path();
        let name = entry.file_name();
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if kind.is_dir() {
            if name != "target" && name != ".git" && !path.ends_with("book/book") {
                walk(&path, out);
            }
        } else {
            out.push(path);
        }
    }
}
