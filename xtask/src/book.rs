//! Builds the book with mdBook's library, after checking its includes.

use std::fmt::{self, Write as _};
use std::path::{Path, PathBuf};
use std::sync::Once;

use mdbook_driver::config::Config;
use mdbook_driver::MDBook;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Metadata};

use crate::chapters::relative;
use crate::includes;

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
    show_mdbook_warnings();
    let book = MDBook::load_with_config(&book_dir, config)
        .map_err(|e| format!("loading the book: {e:#}"))?;
    book.build()
        .map_err(|e| format!("building the book: {e:#}"))?;
    Ok(book.build_dir_for("html").join("index.html"))
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
