//! The chapters, found on disk: every `chapters/chNN_slug` directory is one.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use regex::Regex;

/// The workspace root: xtask lives in `<root>/xtask`.
pub fn workspace_root() -> PathBuf {
    // `cargo run` says where xtask is now; the path compiled in may be stale when the
    // checkout moved together with its target directory, which cargo does not rebuild.
    let manifest_dir = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .filter(|dir| dir.ends_with("xtask"))
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")));
    manifest_dir
        .parent()
        .expect("xtask lives in a subdirectory of the workspace")
        .to_path_buf()
}

/// One chapter and the places that belong to it.
pub struct Chapter {
    /// `chNN_slug`: the directory, the skeleton's package and the test target.
    pub name: String,
    /// `chapters/chNN_slug`, the student's crate.
    pub skeleton: PathBuf,
    /// `solutions/chNN_slug`, the reference solution.
    pub solution: PathBuf,
    /// `tests/chNN_slug.rs`.
    pub tests: PathBuf,
    /// `book/src/chNN_slug.md`.
    pub page: PathBuf,
}

impl Chapter {
    /// The package name of the student's crate.
    pub fn skeleton_package(&self) -> String {
        package_name(&self.skeleton).unwrap_or_else(|| self.name.clone())
    }

    /// The package name of the solution crate.
    pub fn solution_package(&self) -> String {
        package_name(&self.solution).unwrap_or_else(|| format!("{}_solution", self.name))
    }

    /// Path dependencies of the chapter's two crates that point into `chapters/`: a
    /// skeleton or a solution that needs another student's crate would leave a student
    /// stuck in one chapter stuck in the next. Only solutions may be depended on.
    pub fn skeleton_dependencies(&self, root: &Path) -> Vec<String> {
        let path_key = Regex::new(r#"path\s*=\s*"([^"]+)""#).expect("a valid regex");
        let skeletons = root.join("chapters");
        let skeletons = skeletons.canonicalize().unwrap_or(skeletons);
        let mut found = Vec::new();
        for crate_dir in [&self.skeleton, &self.solution] {
            let manifest = crate_dir.join("Cargo.toml");
            let Ok(text) = fs::read_to_string(&manifest) else {
                continue;
            };
            for dependency in path_key.captures_iter(&text) {
                let target = crate_dir.join(&dependency[1]);
                let target = target.canonicalize().unwrap_or(target);
                if target.starts_with(&skeletons) {
                    found.push(format!(
                        "{} depends on {}",
                        relative(root, &manifest),
                        relative(root, &target)
                    ));
                }
            }
        }
        found
    }

    /// The files a chapter must have, as paths relative to `root`, that do not exist.
    pub fn missing(&self, root: &Path) -> Vec<String> {
        [
            self.skeleton.join("Cargo.toml"),
            self.solution.join("Cargo.toml"),
            self.tests.clone(),
            self.page.clone(),
        ]
        .iter()
        .filter(|path| !path.exists())
        .map(|path| relative(root, path))
        .collect()
    }
}

/// Every chapter, in order: each `chNN_slug` directory of `root/solutions`, where it is
/// written, or of `root/chapters`, where it is generated to.
pub fn discover(root: &Path) -> Result<Vec<Chapter>, String> {
    let pattern = Regex::new(r"^ch\d\d_[a-z0-9_]+$").expect("valid regex");
    let mut names = Vec::new();
    for side in ["solutions", "chapters"] {
        let Ok(entries) = fs::read_dir(root.join(side)) else {
            continue;
        };
        names.extend(
            entries
                .filter_map(Result::ok)
                .filter(|entry| entry.path().is_dir())
                .filter_map(|entry| entry.file_name().into_string().ok())
                .filter(|name| pattern.is_match(name)),
        );
    }
    names.sort();
    names.dedup();
    Ok(names
        .into_iter()
        .map(|name| Chapter {
            skeleton: root.join("chapters").join(&name),
            solution: root.join("solutions").join(&name),
            tests: root.join("tests").join(format!("{name}.rs")),
            page: root.join("book/src").join(format!("{name}.md")),
            name,
        })
        .collect())
}

/// The test files `tests/*.rs` that belong to no chapter, by target name.
pub fn other_test_targets(root: &Path, chapters: &[Chapter]) -> Vec<String> {
    let Ok(entries) = fs::read_dir(root.join("tests")) else {
        return Vec::new();
    };
    let mut names: Vec<String> = entries
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.is_file() && path.extension().is_some_and(|ext| ext == "rs"))
        .filter_map(|path| Some(path.file_stem()?.to_str()?.to_owned()))
        .filter(|name| !chapters.iter().any(|c| &c.name == name))
        .collect();
    names.sort();
    names
}

/// Keeps the chapters that `wanted` names, exactly or by a unique prefix (`ch02`).
pub fn select(chapters: Vec<Chapter>, wanted: &[String]) -> Result<Vec<Chapter>, String> {
    if wanted.is_empty() {
        return Ok(chapters);
    }
    let mut keep = Vec::new();
    for want in wanted {
        let matches: Vec<&Chapter> = match chapters.iter().find(|c| &c.name == want) {
            Some(exact) => vec![exact],
            None => chapters
                .iter()
                .filter(|c| c.name.starts_with(want.as_str()))
                .collect(),
        };
        match matches.as_slice() {
            [one] => keep.push(one.name.clone()),
            [] => {
                let known: Vec<&str> = chapters.iter().map(|c| c.name.as_str()).collect();
                return Err(format!(
                    "no chapter `{want}`; chapters: {}",
                    known.join(", ")
                ));
            }
            _ => return Err(format!("`{want}` names more than one chapter")),
        }
    }
    Ok(chapters
        .into_iter()
        .filter(|c| keep.contains(&c.name))
        .collect())
}

/// The `name = "..."` of a crate's `[package]`, read without a TOML parser because
/// the manifests are small and written by us.
fn package_name(crate_dir: &Path) -> Option<String> {
    let manifest = fs::read_to_string(crate_dir.join("Cargo.toml")).ok()?;
    let pattern = Regex::new(r#"(?m)^\s*name\s*=\s*"([^"]+)""#).expect("valid regex");
    let name = pattern.captures(&manifest)?[1].to_owned();
    Some(name.replace('-', "_"))
}

/// `path` relative to `root` when it is inside it, for messages.
pub fn relative(root: &Path, path: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .display()
        .to_string()
}

/// Where in a crate each exercise is, from the student's point of view.
pub struct ExerciseFile {
    /// The file, relative to the workspace root.
    pub path: String,
    /// The line of its first `todo!(` or `// TODO:`, if any is left.
    pub first_todo: Option<usize>,
}

/// Maps exercise ids (`ex1`) to the files of `crate_dir/src` that hold them: a file
/// whose module doc starts with `//! Exercise N` holds exercise N; otherwise a file
/// whose `// TODO:` lines say `Exercise N` or `exN`.
pub fn exercise_files(root: &Path, crate_dir: &Path) -> BTreeMap<String, ExerciseFile> {
    let heading = Regex::new(r"^//!\s*Exercises?\s+([\d ,and&]+)").expect("valid regex");
    let number = Regex::new(r"\d+").expect("valid regex");
    let todo_mention = Regex::new(r"(?i)\b(?:exercise\s+|ex)(\d+)\b").expect("valid regex");
    let mut by_heading = BTreeMap::new();
    let mut by_todo = BTreeMap::new();
    let mut files = Vec::new();
    rust_files(&crate_dir.join("src"), &mut files);
    files.sort();
    for file in files {
        let Ok(text) = fs::read_to_string(&file) else {
            continue;
        };
        let first_todo = text
            .lines()
            .position(|line| line.contains("todo!(") || line.trim_start().starts_with("// TODO"))
            .map(|index| index + 1);
        let entry = || ExerciseFile {
            path: relative(root, &file),
            first_todo,
        };
        let first_doc = text
            .lines()
            .find(|line| line.trim_start().starts_with("//!"));
        if let Some(caps) = first_doc.and_then(|line| heading.captures(line.trim_start())) {
            for n in number.find_iter(&caps[1]) {
                by_heading.insert(format!("ex{}", n.as_str()), entry());
            }
            continue;
        }
        for line in text
            .lines()
            .filter(|l| l.trim_start().starts_with("// TODO"))
        {
            for caps in todo_mention.captures_iter(line) {
                by_todo
                    .entry(format!("ex{}", &caps[1]))
                    .or_insert_with(entry);
            }
        }
    }
    for (id, file) in by_todo {
        by_heading.entry(id).or_insert(file);
    }
    by_heading
}

/// Every `.rs` file under `dir`, recursively.
pub fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    files_with_extension(dir, "rs", out);
}

/// Every file under `dir` whose name ends in `.<extension>`, recursively.
pub fn files_with_extension(dir: &Path, extension: &str, out: &mut Vec<PathBuf>) {
    let mut all = Vec::new();
    all_files(dir, &mut all);
    out.extend(
        all.into_iter()
            .filter(|path| path.extension().is_some_and(|ext| ext == extension)),
    );
}

/// Every file under `dir`, recursively, but for build output (`target`).
pub fn all_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.filter_map(Result::ok) {
        let path = entry.path();
        if path.is_dir() {
            if entry.file_name() != "target" {
                all_files(&path, out);
            }
        } else {
            out.push(path);
        }
    }
}
