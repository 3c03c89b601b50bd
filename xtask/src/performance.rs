//! The generated parts of the book's "How fast is it?" page. The page's prose is
//! hand-written; its `{{#performance what}}` tags are replaced, when the book is built,
//! by what the benches measured (the [`Results`] assembled from `book/figures/`):
//!
//! - `{{#performance machine}}`: when and on what the figures were measured;
//! - `{{#performance tables}}`: a table per chapter: ours, CPython, the physical limit,
//!   Rust peers, the ratios, and every target with its verdict;
//! - `{{#performance overview}}`: a chart of ours, CPython and the limit per primitive,
//!   on a log scale;
//! - `{{#performance sweeps}}`: a chart per series (how a cost grows with the work), and
//!   a line for each expected series no bench has written yet.

use std::fmt::Write as _;
use std::path::Path;

use crate::charts::{self, seconds_per, Bar};
use crate::includes;
use crate::results::{number, Chapter, Results, Row};

/// The series the page is meant to draw, by chapter and key, and what each shows while
/// no bench writes it. Any other series a bench writes is drawn too.
const EXPECTED: &[(&str, &str, &str)] = &[
    (
        "ch03_lifecycle",
        "start_join_children",
        "process start + join for 1 to 64 children",
    ),
    (
        "ch04_pipes_queues",
        "queue_producers_consumers",
        "queue throughput for 1 to 4 producers and consumers",
    ),
    (
        "ch05_sync",
        "locked_increments_procs",
        "locked increments for 1 to 8 processes",
    ),
    (
        "ch07_pool",
        "pool_map_workers",
        "pool `map` for 1 to as many workers as cores, and chunk sizes \
         (chapter 7's bench writes it as the series `pool_map_workers`: x the workers, one \
         line per chunk size)",
    ),
];

/// `text` with every `{{#performance ...}}` tag replaced. `Err` lists the tags it could
/// not expand.
pub fn expand(
    root: &Path,
    page: &Path,
    text: &str,
    results: &Results,
) -> Result<String, Vec<String>> {
    includes::replace(root, page, text, "performance", |tag| match tag.rest {
        "machine" => Ok(machine(results)),
        "tables" => Ok(tables(root, results)),
        "overview" => overview(results),
        "sweeps" => sweeps(results),
        other => Err(format!(
            "no part `{other}` (machine, tables, overview, sweeps)"
        )),
    })
}

/// "Measured on ..., CPU, cores, kernel", from the figures files (a range of dates
/// when the chapters were measured on different days).
fn machine(results: &Results) -> String {
    let mut dates: Vec<&str> = results.chapters.iter().map(|c| c.date.as_str()).collect();
    dates.sort_unstable();
    dates.dedup();
    let when = match dates.as_slice() {
        [] => "never".to_owned(),
        [one] => (*one).to_owned(),
        [first, .., last] => format!("{first} to {last}"),
    };
    let mut machines: Vec<String> = results
        .chapters
        .iter()
        .map(|c| {
            let field = |key: &str| {
                c.machine.get(key).map_or("?".to_owned(), |v| match v {
                    serde_json::Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
            };
            format!(
                "{}, {} cores, Linux {}",
                field("cpu"),
                field("cores"),
                field("kernel")
            )
        })
        .collect();
    machines.sort();
    machines.dedup();
    let quick = if results.chapters.iter().any(|c| c.quick) {
        " **These are a quick pass's figures, too short to trust.**"
    } else {
        ""
    };
    format!(
        "Measured on {when}, on {}.{quick}",
        machines.join("; and on ")
    )
}

/// The title SUMMARY.md gives the page `name.md`, else `name`.
fn title(root: &Path, name: &str) -> String {
    let summary = std::fs::read_to_string(root.join("book/src/SUMMARY.md")).unwrap_or_default();
    let link = format!("]({name}.md)");
    summary
        .lines()
        .find_map(|line| {
            let end = line.find(&link)?;
            let start = line[..end].rfind('[')?;
            Some(line[start + 1..end].to_owned())
        })
        .unwrap_or_else(|| name.to_owned())
}

/// `text` safe inside a table cell.
fn cell(text: &str) -> String {
    text.replace('|', "\\|")
}

/// A table per chapter, each row with its targets' verdicts.
fn tables(root: &Path, results: &Results) -> String {
    let mut out = String::new();
    let (mut met, mut all) = (0, 0);
    for chapter in results.chapters.iter().filter(|c| !c.rows.is_empty()) {
        // The div (with the blank lines around the table) lets the page's CSS make
        // these wide tables a little smaller; the table inside is still Markdown.
        let _ = writeln!(
            out,
            "\n### {} (`{}`)\n\n<div class=\"figures\">\n\n| What | Ours | CPython | Limit \
             | Rust peers | Targets |\n|---|--:|---|---|---|---|",
            title(root, &chapter.name),
            chapter.name
        );
        for row in &chapter.rows {
            let verdicts = chapter.verdicts(row);
            met += verdicts.iter().filter(|v| v.1 == Some(true)).count();
            all += verdicts.len();
            let _ = writeln!(out, "{}", table_row(chapter, row));
        }
        out.push_str("\n</div>\n");
    }
    format!(
        "{met} of {all} targets met in this run (a target \"missed\" on a loaded machine is \
         worth a second run).\n{out}"
    )
}

fn table_row(chapter: &Chapter, row: &Row) -> String {
    let Some(ours) = chapter.figure(&row.ours) else {
        return format!("| {} | not measured |||||", cell(&row.what));
    };
    // Each comparison with what ours did: "ours 3.5× faster", "ours ÷ limit 1.1×".
    let versus = |theirs: f64| {
        let speedup = row.better.speedup(ours.value, theirs);
        if speedup >= 1.0 {
            format!("ours {}× faster", number(speedup, 2))
        } else {
            format!("ours {}× slower", number(1.0 / speedup, 2))
        }
    };
    let cpython = match row.cpython.as_deref().and_then(|k| chapter.figure(k)) {
        Some(theirs) => format!("{}<br>*{}*", theirs.text, versus(theirs.value)),
        None => "—".to_owned(),
    };
    let limit = match &row.limit {
        Some(column) => match chapter.figure(&column.figure) {
            Some(limit) => format!(
                "{}: {}<br>*ours ÷ limit {}×*",
                column.name,
                limit.text,
                number(1.0 / row.better.speedup(ours.value, limit.value), 2)
            ),
            None => column.name.clone(),
        },
        None => "—".to_owned(),
    };
    let peers: Vec<String> = row
        .peers
        .iter()
        .filter_map(|peer| {
            let theirs = chapter.figure(&peer.figure)?;
            Some(format!(
                "{}: {}<br>*{}*",
                peer.name,
                theirs.text,
                versus(theirs.value)
            ))
        })
        .collect();
    let targets: Vec<String> = chapter
        .verdicts(row)
        .into_iter()
        .map(|(target, verdict)| {
            let described = target.describe(
                |against| Chapter::column_name(row, against),
                |bound| {
                    format!("{} {}", number(bound, 2), ours.unit)
                        .trim_end()
                        .to_owned()
                },
            );
            let verdict = match verdict {
                Some(true) => "met",
                Some(false) => "**missed**",
                None => "not measured",
            };
            format!("{described}: {verdict}")
        })
        .collect();
    let or_dash = |list: Vec<String>| {
        if list.is_empty() {
            "—".to_owned()
        } else {
            list.join("<br>")
        }
    };
    format!(
        "| {} | {} | {} | {} | {} | {} |",
        cell(&row.what),
        cell(&ours.text),
        cell(&cpython),
        cell(&limit),
        cell(&or_dash(peers)),
        cell(&or_dash(targets)),
    )
}

/// Seconds per operation of a figure in `unit`: a time as it is, a rate's inverse;
/// `None` for other units (GB/s, counts), which the overview leaves out.
fn seconds_per_operation(value: f64, unit: &str) -> Option<f64> {
    match (seconds_per(unit), unit) {
        (Some(scale), _) => Some(value * scale),
        (None, "msg/s" | "1/s") if value > 0.0 => Some(1.0 / value),
        _ => None,
    }
}

/// The overview chart: every row with a CPython figure, ours, CPython and the limit in
/// time per operation.
fn overview(results: &Results) -> Result<String, String> {
    let mut bars = Vec::new();
    for chapter in &results.chapters {
        let short = chapter.name.split('_').next().unwrap_or_default();
        for row in &chapter.rows {
            let Some(ours) = chapter.figure(&row.ours) else {
                continue;
            };
            let Some(cpython) = row.cpython.as_deref().and_then(|k| chapter.figure(k)) else {
                continue;
            };
            let per_op = |value: f64| seconds_per_operation(value, &ours.unit);
            let (Some(ours_s), Some(cpython_s)) = (per_op(ours.value), per_op(cpython.value))
            else {
                continue;
            };
            let limit = row.limit.as_ref().and_then(|column| {
                let figure = chapter.figure(&column.figure)?;
                Some((column.name.clone(), per_op(figure.value)?))
            });
            bars.push(Bar {
                label: format!("{short}: {}", row.what),
                ours: ours_s,
                cpython: Some(cpython_s),
                limit,
            });
        }
    }
    if bars.is_empty() {
        return Ok("*No bench has measured CPython yet: run `cargo xtask bench`.*".to_owned());
    }
    Ok(figure_html(&charts::overview(&bars)?))
}

/// A chart as the page embeds it.
fn figure_html(svg: &str) -> String {
    format!("<div class=\"chart\">\n{svg}\n</div>\n")
}

/// A chart per series, then a line for each expected series that no bench wrote.
fn sweeps(results: &Results) -> Result<String, String> {
    let mut out = String::new();
    for chapter in &results.chapters {
        for series in &chapter.series {
            let _ = writeln!(
                out,
                "\n#### {} (`{}`)\n\n{}",
                series.title,
                chapter.name,
                figure_html(&charts::series(series)?)
            );
        }
    }
    let missing: Vec<&str> = EXPECTED
        .iter()
        .filter(|(name, key, _)| {
            !results
                .chapters
                .iter()
                .any(|c| c.name == *name && c.series.iter().any(|s| s.key == *key))
        })
        .map(|(_, _, what)| *what)
        .collect();
    if !missing.is_empty() {
        let _ = writeln!(
            out,
            "\nNot measured yet, and drawn here once a bench writes it: {}.",
            missing.join("; ")
        );
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results;

    fn results() -> Results {
        Results {
            chapters: vec![results::parse("ch05_sync", results::tests::FILE).unwrap()],
        }
    }

    #[test]
    fn every_part_expands() {
        let root = crate::chapters::workspace_root();
        let page = root.join("book/src/performance.md");
        let text = "{{#performance machine}}\n\n{{#performance tables}}\n\n\
                    {{#performance overview}}\n\n{{#performance sweeps}}\n";
        let out = expand(&root, &page, text, &results()).unwrap();
        assert!(out.starts_with("Measured on "), "{out}");
        assert!(out.contains("| What | Ours | CPython | Limit |"), "{out}");
        assert!(out.contains("ours 150× faster"), "{out}");
        assert!(out.contains("≥ 1× raw_sync: **missed**"), "{out}");
        assert!(out.contains("<div class=\"chart\">\n<svg"), "{out}");
        assert!(
            out.contains("pool `map`"),
            "the pool's series is not there yet: {out}"
        );
        assert!(!out.contains("{{#performance"), "{out}");
    }

    #[test]
    fn an_unknown_part_is_an_error() {
        let root = crate::chapters::workspace_root();
        let page = root.join("book/src/performance.md");
        let problems = expand(&root, &page, "a\n{{#performance nope}}\n", &results()).unwrap_err();
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].contains(":2: ") && problems[0].contains("no part `nope`"));
    }

    #[test]
    fn rates_become_time_per_operation() {
        assert_eq!(seconds_per_operation(2.0, "ms"), Some(2e-3));
        assert_eq!(seconds_per_operation(1e6, "msg/s"), Some(1e-6));
        assert_eq!(seconds_per_operation(2.4, "GB/s"), None);
    }
}
