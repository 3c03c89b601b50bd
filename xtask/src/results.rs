//! The whole benchmark run as one model: every chapter's figures file (`book/figures/`,
//! written by the benches, the one source of figures) with its figures, the rows of the
//! "How fast is it?" tables and the series of its charts. `cargo xtask bench` writes it
//! as one JSON file ([`Results::to_json`]); the book's page is drawn from the same
//! model, assembled again from the same files, so the two cannot differ.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use serde_json::{json, Map, Value};

use crate::chapters::relative;

/// Rows, targets and the book's rounding, shared with the benches (one source).
#[path = "../../benches/common/rows.rs"]
pub mod rows;

pub use rows::{number, time_text, Better, Role, Target};

/// One figure of a figures file.
#[derive(Clone, Debug)]
pub struct Figure {
    pub value: f64,
    pub unit: String,
    pub text: String,
}

/// A named column of a row: the physical limit or a peer, and its figure's key.
#[derive(Clone, Debug)]
pub struct Column {
    pub name: String,
    pub figure: String,
}

/// One row of a chapter's table (see `Row` in `benches/common/mod.rs`).
#[derive(Clone, Debug)]
pub struct Row {
    pub what: String,
    pub better: Better,
    pub ours: String,
    pub cpython: Option<String>,
    pub limit: Option<Column>,
    pub peers: Vec<Column>,
    pub targets: Vec<Target>,
}

/// One line of a series.
#[derive(Clone, Debug)]
pub struct Line {
    pub name: String,
    pub role: Role,
    pub values: Vec<Option<f64>>,
}

/// How a cost grows with the work (see `Series` in `benches/common/mod.rs`).
#[derive(Clone, Debug)]
pub struct Series {
    pub key: String,
    pub title: String,
    pub x_label: String,
    pub unit: String,
    pub x: Vec<f64>,
    pub lines: Vec<Line>,
}

/// One chapter's figures file.
#[derive(Clone, Debug)]
pub struct Chapter {
    /// The file's stem: `ch05_sync`.
    pub name: String,
    pub bench: String,
    pub date: String,
    pub quick: bool,
    pub machine: Value,
    pub figures: BTreeMap<String, Figure>,
    pub rows: Vec<Row>,
    pub series: Vec<Series>,
    /// The file as it is, for the whole-run JSON.
    pub raw: Value,
}

impl Chapter {
    /// The figure `key`, if the bench wrote it.
    pub fn figure(&self, key: &str) -> Option<&Figure> {
        self.figures.get(key)
    }

    /// The figure of the column `against` of `row` (`cpython`, `limit` or a peer).
    pub fn column(&self, row: &Row, against: &str) -> Option<&Figure> {
        let key = match against {
            rows::CPYTHON => row.cpython.as_deref(),
            rows::LIMIT => row.limit.as_ref().map(|c| c.figure.as_str()),
            peer => row
                .peers
                .iter()
                .find(|c| c.name == peer)
                .map(|c| c.figure.as_str()),
        }?;
        self.figure(key)
    }

    /// The name the page gives the column `against` of `row`.
    pub fn column_name(row: &Row, against: &str) -> String {
        match against {
            rows::CPYTHON => "CPython".to_owned(),
            rows::LIMIT => row
                .limit
                .as_ref()
                .map_or("the limit".to_owned(), |c| c.name.clone()),
            peer => peer.to_owned(),
        }
    }

    /// Each target of `row` with its verdict (`None`: not measured).
    pub fn verdicts<'r>(&self, row: &'r Row) -> Vec<(&'r Target, Option<bool>)> {
        let Some(ours) = self.figure(&row.ours) else {
            return row.targets.iter().map(|t| (t, None)).collect();
        };
        row.targets
            .iter()
            .map(|target| {
                let other = target
                    .against()
                    .and_then(|against| self.column(row, against))
                    .map(|f| f.value);
                (target, target.met(row.better, ours.value, other))
            })
            .collect()
    }
}

/// Every chapter's figures, by name.
pub struct Results {
    pub chapters: Vec<Chapter>,
}

impl Results {
    /// Reads every `*.json` of `dir` (`book/figures/`, or a quick pass's directory).
    pub fn load(root: &Path, dir: &Path) -> Result<Results, String> {
        let mut paths: Vec<PathBuf> = fs::read_dir(dir)
            .map_err(|e| format!("reading {}: {e}", relative(root, dir)))?
            .filter_map(Result::ok)
            .map(|entry| entry.path())
            .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
            .collect();
        paths.sort();
        let mut chapters = Vec::new();
        let mut problems = Vec::new();
        for path in paths {
            let name = path
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or_default()
                .to_owned();
            match fs::read_to_string(&path)
                .map_err(|e| e.to_string())
                .and_then(|text| parse(&name, &text))
            {
                Ok(chapter) => chapters.push(chapter),
                Err(problem) => problems.push(format!("{}: {problem}", relative(root, &path))),
            }
        }
        if problems.is_empty() {
            Ok(Results { chapters })
        } else {
            Err(problems.join("\n  "))
        }
    }

    /// The whole run as one JSON document: when and where (the newest date among the
    /// files, and this machine), and every chapter's file as the bench wrote it.
    pub fn to_json(&self, quick: bool, commit: Option<&str>) -> Value {
        let date = self
            .chapters
            .iter()
            .map(|c| c.date.as_str())
            .max()
            .unwrap_or_default();
        let chapters: Map<String, Value> = self
            .chapters
            .iter()
            .map(|c| (c.name.clone(), c.raw.clone()))
            .collect();
        json!({
            "date": date,
            "quick": quick,
            "commit": commit,
            "machine": machine(),
            "chapters": chapters,
        })
    }
}

/// This machine: cores, CPU model, kernel release and load average.
pub fn machine() -> Value {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let cpu = fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find_map(|line| line.strip_prefix("model name"))
                .map(|rest| rest.trim_start_matches([' ', '\t', ':']).trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".to_owned());
    let kernel = fs::read_to_string("/proc/sys/kernel/osrelease")
        .map_or_else(|_| "unknown".to_owned(), |t| t.trim().to_owned());
    let load = fs::read_to_string("/proc/loadavg")
        .map(|t| t.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default();
    json!({ "cores": cores, "cpu": cpu, "kernel": kernel, "load_average": load })
}

/// A figures file, or why it is not one.
pub fn parse(name: &str, text: &str) -> Result<Chapter, String> {
    let raw: Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    let string = |value: &Value, key: &str| {
        value
            .get(key)
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| format!("no string `{key}`"))
    };
    let mut figures = BTreeMap::new();
    for (key, figure) in raw
        .get("figures")
        .and_then(Value::as_object)
        .ok_or("no object `figures`")?
    {
        figures.insert(
            key.clone(),
            Figure {
                value: figure
                    .get("value")
                    .and_then(Value::as_f64)
                    .ok_or_else(|| format!("figure `{key}` has no number `value`"))?,
                unit: string(figure, "unit").map_err(|e| format!("figure `{key}`: {e}"))?,
                text: string(figure, "text").map_err(|e| format!("figure `{key}`: {e}"))?,
            },
        );
    }
    let list = |key: &str| {
        raw.get(key)
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    };
    let rows = list("rows")
        .iter()
        .map(|row| parse_row(row, &figures))
        .collect::<Result<Vec<_>, _>>()?;
    let series = list("series")
        .iter()
        .map(parse_series)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Chapter {
        name: name.to_owned(),
        bench: string(&raw, "bench")?,
        date: string(&raw, "date")?,
        quick: raw.get("quick").and_then(Value::as_bool).unwrap_or(false),
        machine: raw.get("machine").cloned().unwrap_or(Value::Null),
        figures,
        rows,
        series,
        raw,
    })
}

fn parse_column(value: &Value) -> Result<Column, String> {
    let field = |key: &str| {
        value
            .get(key)
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| format!("a column without `{key}`"))
    };
    Ok(Column {
        name: field("name")?,
        figure: field("figure")?,
    })
}

fn parse_row(value: &Value, figures: &BTreeMap<String, Figure>) -> Result<Row, String> {
    let what = value
        .get("what")
        .and_then(Value::as_str)
        .ok_or("a row without `what`")?
        .to_owned();
    let problem = |p: String| format!("row {what:?}: {p}");
    let better = value
        .get("better")
        .and_then(Value::as_str)
        .and_then(Better::parse)
        .ok_or_else(|| problem("`better` is not lower or higher".into()))?;
    let key = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_owned);
    let ours = key(value.get("ours")).ok_or_else(|| problem("no `ours`".into()))?;
    let limit = match value.get("limit") {
        None | Some(Value::Null) => None,
        Some(column) => Some(parse_column(column).map_err(problem)?),
    };
    let peers = value
        .get("peers")
        .and_then(Value::as_array)
        .map(|list| list.iter().map(parse_column).collect::<Result<Vec<_>, _>>())
        .transpose()
        .map_err(problem)?
        .unwrap_or_default();
    let targets = value
        .get("targets")
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .map(|t| {
                    let kind = t.get("kind").and_then(Value::as_str).unwrap_or_default();
                    let number = t.get("value").and_then(Value::as_f64).unwrap_or(f64::NAN);
                    let against = t.get("against").and_then(Value::as_str);
                    Target::parse(kind, number, against)
                        .ok_or_else(|| problem(format!("a target I cannot read: {t}")))
                })
                .collect::<Result<Vec<_>, _>>()
        })
        .transpose()?
        .unwrap_or_default();
    let row = Row {
        what: what.clone(),
        better,
        ours,
        cpython: key(value.get("cpython")),
        limit,
        peers,
        targets,
    };
    let mut keys = vec![&row.ours];
    keys.extend(row.cpython.as_ref());
    keys.extend(row.limit.iter().map(|c| &c.figure));
    keys.extend(row.peers.iter().map(|c| &c.figure));
    if let Some(missing) = keys.into_iter().find(|k| !figures.contains_key(*k)) {
        return Err(problem(format!("names no figure `{missing}`")));
    }
    Ok(row)
}

fn parse_series(value: &Value) -> Result<Series, String> {
    let string = |key: &str| {
        value
            .get(key)
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| format!("a series without `{key}`"))
    };
    let key = string("key")?;
    let numbers = |v: Option<&Value>| -> Vec<Option<f64>> {
        v.and_then(Value::as_array)
            .map(|list| list.iter().map(Value::as_f64).collect())
            .unwrap_or_default()
    };
    let x: Vec<f64> = numbers(value.get("x")).into_iter().flatten().collect();
    let mut lines = Vec::new();
    for line in value
        .get("lines")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
    {
        let name = line
            .get("name")
            .and_then(Value::as_str)
            .ok_or_else(|| format!("series {key}: a line without `name`"))?
            .to_owned();
        let role = line
            .get("role")
            .and_then(Value::as_str)
            .and_then(Role::parse)
            .ok_or_else(|| format!("series {key}, line {name}: no role I know"))?;
        let values = numbers(line.get("values"));
        if values.len() != x.len() {
            return Err(format!("series {key}, line {name}: one value per x"));
        }
        lines.push(Line { name, role, values });
    }
    Ok(Series {
        title: string("title")?,
        x_label: string("x_label")?,
        unit: string("unit")?,
        key,
        x,
        lines,
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A small figures file, for the tests of the modules that read one.
    pub const FILE: &str = r#"{
      "bench": "ch05_sync", "date": "2026-11-29", "quick": false,
      "machine": { "cores": 2, "cpu": "x", "kernel": "6" },
      "sources": [], "source_digest": "00",
      "figures": {
        "lock_ms": { "value": 4.0, "unit": "ms", "text": "4.0 ms" },
        "cpython_ms": { "value": 580.0, "unit": "ms", "text": "580 ms" },
        "raw_ms": { "value": 3.0, "unit": "ms", "text": "3.0 ms" }
      },
      "rows": [
        { "what": "counter", "better": "lower", "ours": "lock_ms", "cpython": "cpython_ms",
          "limit": null, "peers": [{ "name": "raw_sync", "figure": "raw_ms" }],
          "targets": [{ "kind": "faster", "value": 10, "against": "cpython" },
                      { "kind": "faster", "value": 1, "against": "raw_sync" }] }
      ],
      "series": [
        { "key": "procs", "title": "t", "x_label": "processes", "unit": "ms", "x": [1, 2],
          "lines": [{ "name": "ours", "role": "ours", "values": [1.5, null] }] }
      ]
    }"#;

    #[test]
    fn a_figures_file_gives_rows_verdicts_and_series() {
        let chapter = parse("ch05_sync", FILE).unwrap();
        let row = &chapter.rows[0];
        let verdicts: Vec<Option<bool>> = chapter.verdicts(row).into_iter().map(|v| v.1).collect();
        assert_eq!(verdicts, [Some(true), Some(false)]);
        assert_eq!(chapter.series[0].lines[0].values, [Some(1.5), None]);
        assert_eq!(Chapter::column_name(row, "cpython"), "CPython");
    }

    #[test]
    fn a_row_naming_no_figure_is_an_error() {
        let broken = FILE.replace("\"raw_ms\" }]", "\"nope_ms\" }]");
        let problem = parse("ch05_sync", &broken).unwrap_err();
        assert!(problem.contains("names no figure `nope_ms`"), "{problem}");
    }

    #[test]
    fn targets_are_judged_by_speedup() {
        // 10 ms ours, 120 ms CPython: 12x faster.
        let t = Target::faster_than_cpython(10.0);
        assert_eq!(t.met(Better::Lower, 10.0, Some(120.0)), Some(true));
        assert_eq!(t.met(Better::Lower, 13.0, Some(120.0)), Some(false));
        assert_eq!(t.met(Better::Lower, 13.0, None), None);
        // Rates: 1.5 M/s ours, 0.1 M/s CPython.
        assert_eq!(t.met(Better::Higher, 1.5e6, Some(1e5)), Some(true));
        // Within 1.15x of a 10 µs limit.
        let w = Target::within_limit(1.15);
        assert_eq!(w.met(Better::Lower, 11.4, Some(10.0)), Some(true));
        assert_eq!(w.met(Better::Lower, 11.6, Some(10.0)), Some(false));
        assert_eq!(
            Target::AtLeast(5.0).met(Better::Higher, 4.0, None),
            Some(false)
        );
        assert_eq!(
            Target::AtMost(1.0).met(Better::Lower, 1.0, None),
            Some(true)
        );
    }

    #[test]
    fn targets_round_trip_through_their_keys() {
        for t in [
            Target::faster_than("ipc-channel", 1.25),
            Target::within_limit(1.5),
            Target::AtLeast(5e6),
            Target::AtMost(1.0),
        ] {
            let (kind, number) = t.key();
            assert_eq!(Target::parse(kind, number, t.against()), Some(t.clone()));
        }
        let name = |column: &str| column.to_uppercase();
        let value = |v: f64| format!("{v}/s");
        assert_eq!(
            Target::faster_than_cpython(10.0).describe(name, value),
            "≥ 10× CPYTHON"
        );
        assert_eq!(Target::AtLeast(5.0).describe(name, value), "≥ 5/s");
    }

    #[test]
    fn numbers_are_rounded_as_the_book_prints_them() {
        assert_eq!(number(34_012.0, 2), "34\u{2009}000");
        assert_eq!(number(5.23, 2), "5.2");
        assert_eq!(number(0.1949, 2), "0.19");
    }
}
