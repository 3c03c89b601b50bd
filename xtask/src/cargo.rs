//! Runs cargo with `--message-format=json` and keeps what the checks need from its
//! messages: test executables, and diagnostics by package.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;

use crate::chapters::Chapter;
use crate::table::indent;

/// An executable test target that cargo built.
pub struct TestExe {
    /// The compiled test binary.
    pub path: PathBuf,
    /// The `Cargo.toml` of the package the target belongs to.
    pub manifest: PathBuf,
}

/// One compiler diagnostic.
pub struct Diagnostic {
    /// The `Cargo.toml` of the package whose compilation reported it.
    pub manifest: PathBuf,
    /// `error`, `warning`, ...
    pub level: String,
    /// The compiler's own rendering, as it prints it in a terminal.
    pub rendered: String,
}

/// What one cargo invocation produced.
pub struct Build {
    /// Executable test targets by target name (`ch01_setup`).
    pub tests: BTreeMap<String, TestExe>,
    /// Warnings and errors, replayed from cache too.
    pub diagnostics: Vec<Diagnostic>,
    /// Whether cargo said the build finished well.
    pub success: bool,
}

impl Build {
    /// The errors, rendered.
    pub fn errors(&self) -> Vec<&str> {
        self.diagnostics
            .iter()
            .filter(|d| d.level == "error")
            .map(|d| d.rendered.as_str())
            .collect()
    }

    /// How many warnings the package whose manifest is `manifest` got.
    pub fn warnings_of(&self, manifest: &Path) -> Vec<&Diagnostic> {
        self.diagnostics
            .iter()
            .filter(|d| d.level == "warning" && d.manifest == manifest)
            .collect()
    }
}

/// The cargo that runs us (so a `cargo +toolchain xtask` keeps its toolchain).
pub fn program() -> OsString {
    std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into())
}

/// Runs `cargo <args> --message-format=json` in `root`. Cargo's progress goes to our
/// stderr, so a long build is visibly alive.
pub fn build(root: &Path, args: &[String]) -> Result<Build, String> {
    build_into(root, args, None)
}

/// [`build`], into the target directory `target` when one is given.
pub fn build_into(root: &Path, args: &[String], target: Option<&Path>) -> Result<Build, String> {
    let mut command = Command::new(program());
    if let Some(target) = target {
        command.env("CARGO_TARGET_DIR", target);
    }
    command
        .args(args)
        .arg("--message-format=json")
        .current_dir(root)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    let mut child = command
        .spawn()
        .map_err(|e| format!("running cargo {}: {e}", args.join(" ")))?;
    let stdout = child.stdout.take().expect("stdout is piped");
    let mut build = Build {
        tests: BTreeMap::new(),
        diagnostics: Vec::new(),
        success: false,
    };
    for line in BufReader::new(stdout).lines() {
        let line = line.map_err(|e| format!("reading cargo's output: {e}"))?;
        // Build scripts and rustc may print plain lines among the JSON ones.
        let Ok(message) = serde_json::from_str::<Value>(&line) else {
            continue;
        };
        match message["reason"].as_str() {
            Some("compiler-artifact") => {
                let is_test = message["profile"]["test"].as_bool() == Some(true);
                if let (true, Some(exe), Some(name), Some(manifest)) = (
                    is_test,
                    message["executable"].as_str(),
                    message["target"]["name"].as_str(),
                    message["manifest_path"].as_str(),
                ) {
                    build.tests.insert(
                        name.to_owned(),
                        TestExe {
                            path: exe.into(),
                            manifest: manifest.into(),
                        },
                    );
                }
            }
            Some("compiler-message") => {
                if let Some(diagnostic) = diagnostic(&message) {
                    build.diagnostics.push(diagnostic);
                }
            }
            Some("build-finished") => {
                build.success = message["success"].as_bool() == Some(true);
            }
            _ => {}
        }
    }
    let status = child
        .wait()
        .map_err(|e| format!("waiting for cargo: {e}"))?;
    build.success &= status.success();
    Ok(build)
}

/// Where cargo builds: `CARGO_TARGET_DIR` or `target/`.
pub fn target_dir(root: &Path) -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => root.join(dir),
        None => root.join("target"),
    }
}

/// Builds the test targets of `chapters`, and the targets named in `others`, without
/// running them.
pub fn test_build(
    root: &Path,
    chapters: &[&Chapter],
    others: &[String],
    solutions: bool,
) -> Result<Build, String> {
    if chapters.is_empty() && others.is_empty() {
        return Ok(Build {
            tests: Default::default(),
            diagnostics: Vec::new(),
            success: true,
        });
    }
    build(root, &test_build_args(chapters, others, solutions))
}

/// The arguments of [`test_build`]'s cargo.
pub fn test_build_args(chapters: &[&Chapter], others: &[String], solutions: bool) -> Vec<String> {
    // What `cargo test --no-run` builds, to the same files; `cargo test` has no
    // --keep-going, and without it one chapter's compile error hides every other
    // chapter's executable.
    let mut args = vec!["build".to_owned(), "--keep-going".to_owned()];
    if solutions {
        args.extend(["--features".to_owned(), "solutions".to_owned()]);
    }
    for name in chapters.iter().map(|c| &c.name).chain(others) {
        args.extend(["--test".to_owned(), name.clone()]);
    }
    args
}

/// Prints a failed build's first errors.
pub fn print_errors(build: &Build) {
    let errors = build.errors();
    for error in errors.iter().take(5) {
        println!("{}", indent(error, "    "));
    }
    if errors.len() > 5 {
        println!("    ... and {} more errors", errors.len() - 5);
    }
}

fn diagnostic(message: &Value) -> Option<Diagnostic> {
    let inner = &message["message"];
    let level = inner["level"].as_str()?;
    let text = inner["message"].as_str().unwrap_or("");
    // rustc's closing tallies ("2 warnings emitted", "aborting due to ...") are
    // diagnostics too, without a place in the code; they would count twice.
    let is_tally = inner["spans"].as_array().is_some_and(Vec::is_empty)
        && (text.ends_with("emitted") || text.starts_with("aborting due to"));
    if is_tally {
        return None;
    }
    Some(Diagnostic {
        manifest: message["manifest_path"].as_str()?.into(),
        level: level.to_owned(),
        rendered: inner["rendered"].as_str().unwrap_or(text).to_owned(),
    })
}
