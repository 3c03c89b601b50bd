//! `cargo xtask skeletons`: writes each chapter's skeleton crate (`chapters/chNN_slug`)
//! from its solution (`solutions/chNN_slug`), the one hand-written source.
//!
//! In a solution's Rust files, a region from a `// BEGIN SOLUTION` line to an
//! `// END SOLUTION` line is left out of the skeleton, and the run of `// SKELETON: `
//! lines right before it is written in its place, prefix removed, indentation kept:
//! usually a `// TODO:` saying what must hold and a `todo!("...")`. Regions do not
//! nest; everything outside them is copied as it is. The skeleton's `Cargo.toml` is the
//! solution's under the chapter's name, its `lib.rs` allows the items an unfilled
//! exercise leaves unused, and every Rust file goes through rustfmt, so `cargo fmt`
//! leaves the skeletons alone.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use regex::Regex;

use crate::cargo::target_dir;
use crate::chapters::{all_files, relative, Chapter};

const BEGIN: &str = "// BEGIN SOLUTION";
const END: &str = "// END SOLUTION";
const SKELETON: &str = "// SKELETON:";

/// What a skeleton's `lib.rs` says right after its module docs.
const ALLOW_UNUSED: &str = "\
// Until every exercise is filled in, some imports, helpers and parameters go unused.
#![allow(dead_code, unused_imports, unused_variables)]";

/// A chapter's skeleton: every file's content by its path in the crate directory.
pub type Files = BTreeMap<PathBuf, Vec<u8>>;

/// `cargo xtask skeletons`: (re)writes the skeletons of `chapters` and says what changed.
pub fn run(root: &Path, chapters: &[Chapter]) -> Result<(), String> {
    let chapters: Vec<&Chapter> = chapters.iter().filter(|c| c.solution.is_dir()).collect();
    let generated = generate(root, &chapters).map_err(|errors| errors.join("\n"))?;
    let mut changed = 0;
    for (chapter, files) in chapters.iter().zip(&generated) {
        for line in write(root, chapter, files)? {
            println!("{line}");
            changed += 1;
        }
    }
    println!(
        "skeletons: {} chapter(s) generated from solutions/, {changed} file(s) written or removed",
        chapters.len()
    );
    Ok(())
}

/// The skeletons of `chapters`, in their order, as the generator writes them; or every
/// error in the solutions' markers, as `file:line: what`.
pub fn generate(root: &Path, chapters: &[&Chapter]) -> Result<Vec<Files>, Vec<String>> {
    let mut errors = Vec::new();
    let mut all = Vec::new();
    for chapter in chapters {
        let mut paths = Vec::new();
        all_files(&chapter.solution, &mut paths);
        paths.sort();
        let mut files = Files::new();
        for path in paths {
            let shown = relative(root, &path);
            let inside = path
                .strip_prefix(&chapter.solution)
                .expect("a file found under the solution's directory")
                .to_path_buf();
            let content = fs::read(&path)
                .map_err(|e| vec![format!("{shown}: {e}")])
                .and_then(|bytes| skeleton_of(&chapter.name, &inside, &shown, bytes));
            match content {
                Ok(content) => {
                    files.insert(inside, content);
                }
                Err(found) => errors.extend(found),
            }
        }
        all.push(files);
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    rustfmt(root, chapters, &mut all).map_err(|e| vec![e])?;
    Ok(all)
}

/// The skeleton's version of one solution file, `inside` the crate directory.
fn skeleton_of(
    chapter: &str,
    inside: &Path,
    shown: &str,
    bytes: Vec<u8>,
) -> Result<Vec<u8>, Vec<String>> {
    let is_rust = inside.extension().is_some_and(|ext| ext == "rs");
    if inside != Path::new("Cargo.toml") && !is_rust {
        return Ok(bytes);
    }
    let text = String::from_utf8(bytes).map_err(|_| vec![format!("{shown}: not UTF-8")])?;
    if !is_rust {
        return manifest(&text, chapter)
            .map(String::into_bytes)
            .map_err(|e| vec![format!("{shown}: {e}")]);
    }
    let mut text = carve(&text, shown)?;
    if inside == Path::new("src/lib.rs") {
        text = allow_unused(&text);
    }
    Ok(text.into_bytes())
}

/// What one line of a solution is to the generator.
#[derive(Debug, PartialEq)]
enum Marker {
    Begin,
    End,
    /// A `// SKELETON:` line, as it appears in the skeleton.
    Skeleton(String),
    /// Looks like a marker but is not one (`/// BEGIN SOLUTION`, `// END SOLUTION.`).
    Misspelt,
    /// An ordinary line.
    No,
}

impl Marker {
    fn of(line: &str) -> Marker {
        let code = line.trim_start();
        let indent = &line[..line.len() - code.len()];
        if code.trim_end() == BEGIN {
            return Marker::Begin;
        }
        if code.trim_end() == END {
            return Marker::End;
        }
        if let Some(rest) = code.strip_prefix(SKELETON) {
            let rest = rest.strip_prefix(' ').unwrap_or(rest);
            return Marker::Skeleton(format!("{indent}{rest}").trim_end().to_owned());
        }
        let words = code.trim_start_matches(['/', '!', '*', ' ']);
        let is_comment = code.starts_with("//");
        let looks_like = ["BEGIN SOLUTION", "END SOLUTION", "SKELETON:"]
            .iter()
            .any(|marker| words.starts_with(marker));
        if is_comment && looks_like {
            Marker::Misspelt
        } else {
            Marker::No
        }
    }
}

/// The skeleton text of one solution source: regions out, their skeleton lines in.
/// `name` names the file in errors.
pub fn carve(text: &str, name: &str) -> Result<String, Vec<String>> {
    let mut out = String::with_capacity(text.len());
    let mut errors = Vec::new();
    // The `// SKELETON:` lines seen since the last ordinary line, by line number.
    let mut pending: Vec<(usize, String)> = Vec::new();
    // The line of the `// BEGIN SOLUTION` of the region we are in.
    let mut region: Option<usize> = None;
    for (index, line) in text.lines().enumerate() {
        let n = index + 1;
        let marker = Marker::of(line);
        if !pending.is_empty() && !matches!(marker, Marker::Skeleton(_) | Marker::Begin) {
            errors.push(stray(name, pending[0].0));
            pending.clear();
        }
        match (region, marker) {
            (_, Marker::Misspelt) => errors.push(format!(
                "{name}:{n}: `{}` looks like a marker but is not one; markers are whole \
                 lines `{BEGIN}`, `{END}` and `{SKELETON} ...`",
                line.trim()
            )),
            (Some(_), Marker::End) => region = None,
            (Some(start), Marker::Begin) => errors.push(format!(
                "{name}:{n}: `{BEGIN}` inside the region opened at line {start}: regions do not nest"
            )),
            (Some(start), Marker::Skeleton(_)) => errors.push(format!(
                "{name}:{n}: a `{SKELETON}` line inside the region opened at line {start}; \
                 skeleton lines go right before `{BEGIN}`"
            )),
            (Some(_), Marker::No) => {}
            (None, Marker::Skeleton(skeleton)) => pending.push((n, skeleton)),
            (None, Marker::Begin) => {
                for (_, skeleton) in pending.drain(..) {
                    out.push_str(&skeleton);
                    out.push('\n');
                }
                region = Some(n);
            }
            (None, Marker::End) => errors.push(format!(
                "{name}:{n}: `{END}` without a `{BEGIN}` before it"
            )),
            (None, Marker::No) => {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    if let Some(start) = region {
        errors.push(format!(
            "{name}:{start}: `{BEGIN}` is never closed by an `{END}`"
        ));
    }
    if let Some((n, _)) = pending.first() {
        errors.push(stray(name, *n));
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

fn stray(name: &str, line: usize) -> String {
    format!(
        "{name}:{line}: `{SKELETON}` lines must be followed directly by a `{BEGIN}` line, \
         whose region they replace"
    )
}

/// `lib.rs` with [`ALLOW_UNUSED`] after its module docs (inner attributes come before
/// any item).
fn allow_unused(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let docs = lines
        .iter()
        .take_while(|line| line.trim_start().starts_with("//!"))
        .count();
    let mut out = String::with_capacity(text.len() + ALLOW_UNUSED.len() + 2);
    for line in &lines[..docs] {
        out.push_str(line);
        out.push('\n');
    }
    if docs > 0 {
        out.push('\n');
    }
    out.push_str(ALLOW_UNUSED);
    out.push('\n');
    for line in &lines[docs..] {
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// The skeleton's manifest: the solution's, with the package named after the chapter
/// and " (reference solution)" dropped from its description.
fn manifest(text: &str, chapter: &str) -> Result<String, String> {
    let from = format!("name = \"{chapter}_solution\"");
    if !text.lines().any(|line| line.trim() == from) {
        return Err(format!(
            "no line `{from}`: a solution's package is its chapter's name and `_solution`"
        ));
    }
    let mut out = String::with_capacity(text.len());
    for line in text.lines() {
        if line.trim() == from {
            out.push_str(&line.replacen(&from, &format!("name = \"{chapter}\""), 1));
        } else if line.trim_start().starts_with("description") {
            out.push_str(&line.replacen(" (reference solution)", "", 1));
        } else {
            out.push_str(line);
        }
        out.push('\n');
    }
    Ok(out)
}

/// Formats the Rust files of `all` in one rustfmt run over a scratch copy (kept for a
/// look when rustfmt fails), with the workspace's edition, as `cargo fmt` would.
fn rustfmt(root: &Path, chapters: &[&Chapter], all: &mut [Files]) -> Result<(), String> {
    // One scratch directory per process, so that two runs never share one.
    let scratch = target_dir(root)
        .join("xtask")
        .join(format!("skeletons-{}", std::process::id()));
    let io = |e: std::io::Error| format!("writing the skeletons to {}: {e}", scratch.display());
    if scratch.exists() {
        fs::remove_dir_all(&scratch).map_err(io)?;
    }
    let mut paths: Vec<(usize, PathBuf, PathBuf)> = Vec::new();
    for (index, (chapter, files)) in chapters.iter().zip(all.iter()).enumerate() {
        for (inside, content) in files {
            if inside.extension().is_some_and(|ext| ext == "rs") {
                let path = scratch.join(&chapter.name).join(inside);
                fs::create_dir_all(path.parent().expect("a file has a parent")).map_err(io)?;
                fs::write(&path, content).map_err(io)?;
                paths.push((index, inside.clone(), path));
            }
        }
    }
    if paths.is_empty() {
        return Ok(());
    }
    let program = std::env::var_os("RUSTFMT").unwrap_or_else(|| "rustfmt".into());
    let output = Command::new(&program)
        .arg("--edition")
        .arg(edition(root))
        .args(paths.iter().map(|(_, _, path)| path))
        .current_dir(root)
        .output()
        .map_err(|e| {
            format!(
                "running {}: {e} (rustfmt comes with rustup: `rustup component add rustfmt`)",
                program.to_string_lossy()
            )
        })?;
    if !output.status.success() {
        return Err(format!(
            "rustfmt failed on the generated skeletons (left in {}): is a region cut in the \
             middle of an expression?\n{}",
            relative(root, &scratch),
            String::from_utf8_lossy(&output.stderr).trim_end()
        ));
    }
    for (index, inside, path) in paths {
        let formatted = fs::read(&path).map_err(io)?;
        all[index].insert(inside, formatted);
    }
    fs::remove_dir_all(&scratch).map_err(io)
}

/// The workspace's edition, which `cargo fmt` hands rustfmt.
fn edition(root: &Path) -> String {
    let manifest = fs::read_to_string(root.join("Cargo.toml")).unwrap_or_default();
    let pattern = Regex::new(r#"(?m)^\s*edition\s*=\s*"(\d{4})""#).expect("a valid regex");
    pattern
        .captures(&manifest)
        .map_or_else(|| "2021".to_owned(), |caps| caps[1].to_owned())
}

/// Where `chapter`'s skeleton on disk is not `files`, one line per file: hand edits,
/// missing files and files the generator does not write.
pub fn differences(root: &Path, chapter: &Chapter, files: &Files) -> Vec<String> {
    let mut found = Vec::new();
    let solution = relative(root, &chapter.solution);
    for (inside, content) in files {
        let path = chapter.skeleton.join(inside);
        let shown = relative(root, &path);
        match fs::read(&path) {
            Err(_) => found.push(format!(
                "{shown}: missing (generated from {solution}/{})",
                inside.display()
            )),
            Ok(on_disk) if on_disk != *content => found.push(format!(
                "{shown}:{}: not what the generator writes from {solution}/{} (edited by hand?)",
                first_difference(&on_disk, content),
                inside.display()
            )),
            Ok(_) => {}
        }
    }
    for inside in extra(chapter, files) {
        found.push(format!(
            "{}: not generated from {solution}/ (move it there, or delete it)",
            relative(root, &chapter.skeleton.join(inside))
        ));
    }
    found
}

/// The files in the skeleton's directory that `files` does not hold.
fn extra(chapter: &Chapter, files: &Files) -> Vec<PathBuf> {
    let mut on_disk = Vec::new();
    all_files(&chapter.skeleton, &mut on_disk);
    on_disk.sort();
    on_disk
        .into_iter()
        .filter_map(|path| Some(path.strip_prefix(&chapter.skeleton).ok()?.to_path_buf()))
        .filter(|inside| !files.contains_key(inside))
        .collect()
}

/// The first line where two texts differ, counting from 1.
fn first_difference(a: &[u8], b: &[u8]) -> usize {
    let same = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    1 + a[..same].iter().filter(|&&byte| byte == b'\n').count()
}

/// Writes `files` into the chapter's skeleton directory, touching only files whose
/// content changes (cargo then rebuilds only what changed), and removes the files the
/// generator does not write. Returns one line per file written or removed.
pub fn write(root: &Path, chapter: &Chapter, files: &Files) -> Result<Vec<String>, String> {
    let mut done = Vec::new();
    for (inside, content) in files {
        let path = chapter.skeleton.join(inside);
        if fs::read(&path).is_ok_and(|old| old == *content) {
            continue;
        }
        let io = |e: std::io::Error| format!("writing {}: {e}", path.display());
        fs::create_dir_all(path.parent().expect("a file has a parent")).map_err(io)?;
        fs::write(&path, content).map_err(io)?;
        done.push(format!("wrote   {}", relative(root, &path)));
    }
    for inside in extra(chapter, files) {
        let path = chapter.skeleton.join(&inside);
        fs::remove_file(&path).map_err(|e| format!("removing {}: {e}", path.display()))?;
        done.push(format!("removed {}", relative(root, &path)));
        // Directories left empty go too.
        let mut dir = path.parent();
        while let Some(parent) = dir.filter(|d| *d != chapter.skeleton) {
            if fs::remove_dir(parent).is_err() {
                break;
            }
            dir = parent.parent();
        }
    }
    Ok(done)
}

#[cfg(test)]
pub mod tests {
    use super::*;

    fn carved(text: &str) -> String {
        carve(text, "x.rs").unwrap_or_else(|e| panic!("{e:?}"))
    }

    fn errors(text: &str) -> Vec<String> {
        carve(text, "x.rs").expect_err("an error")
    }

    #[test]
    fn a_region_becomes_its_skeleton_lines_with_the_indentation_kept() {
        let solution = "\
fn f(a: u32) -> u32 {
    // ANCHOR: f
    // SKELETON: // TODO: what must hold.
    // SKELETON: todo!(
    // SKELETON:     \"f of {a}\"
    // SKELETON: )
    // BEGIN SOLUTION
    let b = a + 1;
    b
    // END SOLUTION
    // ANCHOR_END: f
}
";
        let skeleton = "\
fn f(a: u32) -> u32 {
    // ANCHOR: f
    // TODO: what must hold.
    todo!(
        \"f of {a}\"
    )
    // ANCHOR_END: f
}
";
        assert_eq!(carved(solution), skeleton);
    }

    #[test]
    fn a_region_without_skeleton_lines_just_goes() {
        let solution = "a\n// BEGIN SOLUTION\nfn helper() {}\n// END SOLUTION\nb\n";
        assert_eq!(carved(solution), "a\nb\n");
    }

    #[test]
    fn text_outside_regions_is_copied_as_it_is() {
        let text = "//! Given.\n\n/// Doc.\npub fn f() {} // SKELETON: not at the start\n";
        assert_eq!(carved(text), text);
    }

    #[test]
    fn an_empty_skeleton_line_is_an_empty_line() {
        let solution = "    // SKELETON: a\n    // SKELETON:\n    // SKELETON: b\n    // BEGIN SOLUTION\n    // END SOLUTION\n";
        assert_eq!(carved(solution), "    a\n\n    b\n");
    }

    #[test]
    fn an_unterminated_region_names_its_begin() {
        let found = errors("a\n// BEGIN SOLUTION\nb\n");
        assert_eq!(found.len(), 1);
        assert!(found[0].starts_with("x.rs:2: "), "{found:?}");
        assert!(found[0].contains("never closed"), "{found:?}");
    }

    #[test]
    fn a_nested_region_is_an_error() {
        let found = errors("// BEGIN SOLUTION\n// BEGIN SOLUTION\n// END SOLUTION\n");
        assert!(found[0].starts_with("x.rs:2: "), "{found:?}");
        assert!(found[0].contains("do not nest"), "{found:?}");
    }

    #[test]
    fn an_end_without_begin_is_an_error() {
        let found = errors("a\n\n// END SOLUTION\n");
        assert_eq!(found.len(), 1);
        assert!(found[0].starts_with("x.rs:3: "), "{found:?}");
        assert!(found[0].contains("without a"), "{found:?}");
    }

    #[test]
    fn skeleton_lines_not_right_before_a_region_are_an_error() {
        for (text, line) in [
            ("a\n// SKELETON: todo!()\nb\n", 2),
            (
                "// SKELETON: todo!()\n\n// BEGIN SOLUTION\n// END SOLUTION\n",
                1,
            ),
            ("a\n// SKELETON: x\n// SKELETON: y\n", 2),
        ] {
            let found = errors(text);
            assert_eq!(found.len(), 1, "{text:?}: {found:?}");
            assert!(found[0].starts_with(&format!("x.rs:{line}: ")), "{found:?}");
            assert!(found[0].contains("followed directly"), "{found:?}");
        }
    }

    #[test]
    fn a_skeleton_line_inside_a_region_is_an_error() {
        let found = errors("// BEGIN SOLUTION\n// SKELETON: x\n// END SOLUTION\n");
        assert!(found[0].starts_with("x.rs:2: "), "{found:?}");
    }

    #[test]
    fn a_misspelt_marker_is_an_error() {
        for text in [
            "/// BEGIN SOLUTION\n",
            "//BEGIN SOLUTION\n",
            "// END SOLUTION here\n",
            "//! SKELETON: x\n",
        ] {
            let found = errors(text);
            assert!(found[0].starts_with("x.rs:1: "), "{found:?}");
            assert!(found[0].contains("looks like a marker"), "{found:?}");
        }
    }

    #[test]
    fn every_error_of_a_file_is_reported() {
        let found = errors("// END SOLUTION\n// SKELETON: x\nb\n// BEGIN SOLUTION\n");
        assert_eq!(found.len(), 3, "{found:?}");
    }

    #[test]
    fn lib_rs_allows_unused_items_after_its_docs() {
        let lib = "//! Chapter 9.\n//!\n//! More.\n\npub mod a;\n";
        assert_eq!(
            allow_unused(lib),
            format!("//! Chapter 9.\n//!\n//! More.\n\n{ALLOW_UNUSED}\n\npub mod a;\n")
        );
        assert_eq!(
            allow_unused("pub mod a;\n"),
            format!("{ALLOW_UNUSED}\npub mod a;\n")
        );
    }

    #[test]
    fn the_manifest_is_renamed() {
        let solution = "[package]\nname = \"ch09_x_solution\"\ndescription = \"Chapter 9 (reference solution)\"\n\n[dependencies]\nch01_a = { path = \"../../solutions/ch01_a\", package = \"ch01_a_solution\" }\n";
        let skeleton = "[package]\nname = \"ch09_x\"\ndescription = \"Chapter 9\"\n\n[dependencies]\nch01_a = { path = \"../../solutions/ch01_a\", package = \"ch01_a_solution\" }\n";
        assert_eq!(manifest(solution, "ch09_x").unwrap(), skeleton);
        assert!(manifest("[package]\nname = \"other\"\n", "ch09_x").is_err());
    }

    /// A scratch workspace with one chapter, `ch09_demo`, whose solution is given by
    /// `(path in the crate, content)` pairs; removed on drop.
    pub struct Scratch {
        pub root: PathBuf,
    }

    impl Scratch {
        pub fn new(test: &str, solution: &[(&str, &str)]) -> Scratch {
            let root = std::env::temp_dir().join(format!("xtask-{test}-{}", std::process::id()));
            let _ = fs::remove_dir_all(&root);
            fs::create_dir_all(root.join("chapters/ch09_demo")).unwrap();
            fs::write(
                root.join("Cargo.toml"),
                "[workspace.package]\nedition = \"2021\"\n",
            )
            .unwrap();
            for (path, content) in solution {
                let path = root.join("solutions/ch09_demo").join(path);
                fs::create_dir_all(path.parent().unwrap()).unwrap();
                fs::write(path, content).unwrap();
            }
            Scratch { root }
        }

        pub fn chapter(&self) -> Chapter {
            crate::chapters::discover(&self.root)
                .unwrap()
                .into_iter()
                .next()
                .unwrap()
        }

        pub fn read(&self, path: &str) -> String {
            fs::read_to_string(self.root.join(path)).unwrap()
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.root);
        }
    }

    /// A small solution crate: a manifest, a lib.rs and one exercise.
    pub const DEMO: [(&str, &str); 3] = [
        (
            "Cargo.toml",
            "[package]\nname = \"ch09_demo_solution\"\ndescription = \"Demo (reference solution)\"\n",
        ),
        ("src/lib.rs", "//! Chapter 9.\n\npub mod one;\n"),
        (
            "src/one.rs",
            "//! Exercise 1: one.\n\n/// One.\npub fn one() -> u32 {\n    // SKELETON: // TODO: one.\n    // SKELETON: todo!(\"one\")\n    // BEGIN SOLUTION\n    1\n    // END SOLUTION\n}\n",
        ),
    ];

    #[test]
    fn generate_write_and_compare_a_chapter() {
        let scratch = Scratch::new("generate", &DEMO);
        let chapter = scratch.chapter();
        let generated = generate(&scratch.root, &[&chapter]).unwrap();
        let files = &generated[0];
        // rustfmt joined the long todo! and kept the comment.
        assert_eq!(
            String::from_utf8_lossy(&files[Path::new("src/one.rs")]),
            "//! Exercise 1: one.\n\n/// One.\npub fn one() -> u32 {\n    // TODO: one.\n    todo!(\"one\")\n}\n"
        );
        assert!(String::from_utf8_lossy(&files[Path::new("src/lib.rs")])
            .contains("#![allow(dead_code, unused_imports, unused_variables)]"));

        // Nothing written yet: every file is missing.
        let found = differences(&scratch.root, &chapter, files);
        assert_eq!(found.len(), 3, "{found:?}");
        assert!(found.iter().all(|f| f.contains("missing")), "{found:?}");

        // A stale file goes, the rest is written; then all is equal.
        fs::create_dir_all(scratch.root.join("chapters/ch09_demo/src/old")).unwrap();
        fs::write(scratch.root.join("chapters/ch09_demo/src/old/two.rs"), "").unwrap();
        let done = write(&scratch.root, &chapter, files).unwrap();
        assert_eq!(done.len(), 4, "{done:?}");
        assert!(!scratch.root.join("chapters/ch09_demo/src/old").exists());
        assert!(differences(&scratch.root, &chapter, files).is_empty());
        assert!(scratch
            .read("chapters/ch09_demo/Cargo.toml")
            .contains("name = \"ch09_demo\""));
        assert!(write(&scratch.root, &chapter, files).unwrap().is_empty());

        // A hand edit and an extra file are named, the edit with its line.
        let one = scratch.root.join("chapters/ch09_demo/src/one.rs");
        fs::write(
            &one,
            scratch
                .read("chapters/ch09_demo/src/one.rs")
                .replace("todo!(\"one\")", "1"),
        )
        .unwrap();
        fs::write(scratch.root.join("chapters/ch09_demo/src/extra.rs"), "").unwrap();
        let found = differences(&scratch.root, &chapter, files);
        assert_eq!(
            found,
            [
                "chapters/ch09_demo/src/one.rs:6: not what the generator writes from \
                 solutions/ch09_demo/src/one.rs (edited by hand?)",
                "chapters/ch09_demo/src/extra.rs: not generated from solutions/ch09_demo/ \
                 (move it there, or delete it)"
            ]
        );
    }

    #[test]
    fn marker_errors_name_the_solution_file() {
        let mut demo = DEMO;
        demo[2].1 = "pub fn one() {\n    // BEGIN SOLUTION\n}\n";
        let scratch = Scratch::new("marker-errors", &demo);
        let chapter = scratch.chapter();
        let Err(found) = generate(&scratch.root, &[&chapter]) else {
            panic!("an unterminated region generated a skeleton");
        };
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0].starts_with("solutions/ch09_demo/src/one.rs:2: "),
            "{found:?}"
        );
    }

    #[test]
    fn a_region_that_leaves_broken_code_fails_in_rustfmt() {
        let mut demo = DEMO;
        demo[2].1 =
            "pub fn one() -> u32 {\n    (\n    // BEGIN SOLUTION\n    1)\n    // END SOLUTION\n}\n";
        let scratch = Scratch::new("broken", &demo);
        let chapter = scratch.chapter();
        let Err(found) = generate(&scratch.root, &[&chapter]) else {
            panic!("a broken skeleton was generated");
        };
        assert!(found[0].contains("rustfmt failed"), "{found:?}");
    }

    /// The markers are comments rustfmt keeps as they are, so `cargo fmt` on the
    /// solutions never moves or rewrites them.
    #[test]
    fn rustfmt_leaves_the_markers_alone() {
        let solution = DEMO[2].1;
        let output = Command::new("rustfmt")
            .args(["--edition", "2021", "--emit", "stdout"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .and_then(|mut child| {
                use std::io::Write;
                child.stdin.take().unwrap().write_all(solution.as_bytes())?;
                child.wait_with_output()
            })
            .unwrap();
        assert!(output.status.success());
        assert_eq!(String::from_utf8_lossy(&output.stdout), solution);
    }
}
