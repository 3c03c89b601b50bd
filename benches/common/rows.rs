//! What a bench compares, and the targets its figures must meet: one row of the book's
//! "How fast is it?" tables (ours, CPython, the physical limit, Rust peers), the rule
//! that says whether a target is met, and how the book rounds a number.
//!
//! The benches write rows into their figures files (`Figures::row` in `mod.rs`), and
//! `cargo xtask` includes this very file to judge them on the page (one source for
//! both sides, like `digest.rs`). No dependency: plain data and arithmetic.
#![allow(dead_code)]

/// Whether a figure is better low (a time) or high (a rate).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Better {
    Lower,
    Higher,
}

impl Better {
    /// The word a figures file stores.
    pub fn key(self) -> &'static str {
        match self {
            Better::Lower => "lower",
            Better::Higher => "higher",
        }
    }

    /// The inverse of [`Better::key`].
    pub fn parse(word: &str) -> Option<Better> {
        match word {
            "lower" => Some(Better::Lower),
            "higher" => Some(Better::Higher),
            _ => None,
        }
    }

    /// How many times better `ours` is than `other`: above 1 when ours is better.
    pub fn speedup(self, ours: f64, other: f64) -> f64 {
        match self {
            Better::Lower => other / ours,
            Better::Higher => ours / other,
        }
    }
}

/// The column a target compares with: CPython, the physical limit, or a peer by name.
pub const CPYTHON: &str = "cpython";
/// See [`CPYTHON`].
pub const LIMIT: &str = "limit";

/// What one figure must reach.
#[derive(Clone, Debug, PartialEq)]
pub enum Target {
    /// At least `times` times better than the column `against`.
    Faster { against: String, times: f64 },
    /// At most `times` times worse than the column `against` (1.15: within 15 %).
    Within { against: String, times: f64 },
    /// The figure itself at least this (in its unit).
    AtLeast(f64),
    /// The figure itself at most this (in its unit).
    AtMost(f64),
}

impl Target {
    /// At least `times` times faster (better) than CPython.
    pub fn faster_than_cpython(times: f64) -> Target {
        Target::Faster {
            against: CPYTHON.to_owned(),
            times,
        }
    }

    /// At least `times` times better than the peer or column `against`.
    pub fn faster_than(against: &str, times: f64) -> Target {
        Target::Faster {
            against: against.to_owned(),
            times,
        }
    }

    /// At most `times` times worse than the physical limit.
    pub fn within_limit(times: f64) -> Target {
        Target::Within {
            against: LIMIT.to_owned(),
            times,
        }
    }

    /// At most `times` times worse than the peer or column `against`.
    pub fn within(against: &str, times: f64) -> Target {
        Target::Within {
            against: against.to_owned(),
            times,
        }
    }

    /// The column this target compares with, if any.
    pub fn against(&self) -> Option<&str> {
        match self {
            Target::Faster { against, .. } | Target::Within { against, .. } => Some(against),
            Target::AtLeast(_) | Target::AtMost(_) => None,
        }
    }

    /// Whether `ours` meets the target, with `other` the figure of the column it
    /// compares with (`None`, not measured: no verdict).
    pub fn met(&self, better: Better, ours: f64, other: Option<f64>) -> Option<bool> {
        match *self {
            Target::Faster { times, .. } => other.map(|o| better.speedup(ours, o) >= times),
            Target::Within { times, .. } => other.map(|o| better.speedup(ours, o) >= 1.0 / times),
            Target::AtLeast(bound) => Some(ours >= bound),
            Target::AtMost(bound) => Some(ours <= bound),
        }
    }

    /// The target in words, `name` naming a column (`CPython`, `raw socketpair`) and
    /// `value` printing a bound in the figure's unit: "≥ 10× CPython", "≤ 1.15×
    /// raw socketpair", "≥ 5 M/s".
    pub fn describe(&self, name: impl Fn(&str) -> String, value: impl Fn(f64) -> String) -> String {
        match self {
            Target::Faster { against, times } => format!("≥ {times}× {}", name(against)),
            Target::Within { against, times } => format!("≤ {times}× {}", name(against)),
            Target::AtLeast(bound) => format!("≥ {}", value(*bound)),
            Target::AtMost(bound) => format!("≤ {}", value(*bound)),
        }
    }

    /// The kind as a figures file stores it, and its number.
    pub fn key(&self) -> (&'static str, f64) {
        match *self {
            Target::Faster { times, .. } => ("faster", times),
            Target::Within { times, .. } => ("within", times),
            Target::AtLeast(bound) => ("at_least", bound),
            Target::AtMost(bound) => ("at_most", bound),
        }
    }

    /// The inverse of [`Target::key`] (and [`Target::against`]).
    pub fn parse(kind: &str, number: f64, against: Option<&str>) -> Option<Target> {
        let against = || against.map(str::to_owned);
        match kind {
            "faster" => Some(Target::Faster {
                against: against()?,
                times: number,
            }),
            "within" => Some(Target::Within {
                against: against()?,
                times: number,
            }),
            "at_least" => Some(Target::AtLeast(number)),
            "at_most" => Some(Target::AtMost(number)),
            _ => None,
        }
    }
}

/// Who drew a line of a series (a chart's colours follow it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// The workbook's solution.
    Ours,
    CPython,
    /// The physical limit: std's in-process primitive, a raw system call loop, memcpy.
    Limit,
    /// Another Rust crate doing the same job.
    Peer,
}

impl Role {
    /// The word a figures file stores.
    pub fn key(self) -> &'static str {
        match self {
            Role::Ours => "ours",
            Role::CPython => "cpython",
            Role::Limit => "limit",
            Role::Peer => "peer",
        }
    }

    /// The inverse of [`Role::key`].
    pub fn parse(word: &str) -> Option<Role> {
        [Role::Ours, Role::CPython, Role::Limit, Role::Peer]
            .into_iter()
            .find(|role| role.key() == word)
    }
}

/// `value` rounded to `significant` digits, as the book prints it: no exponent, and
/// a thin space between groups of three digits from 10 000 up (`34 000`, `5.2`,
/// `0.19`).
pub fn number(value: f64, significant: u32) -> String {
    if value == 0.0 || !value.is_finite() {
        return format!("{value}");
    }
    let magnitude = value.abs().log10().floor() as i32;
    let decimals = (significant as i32 - 1 - magnitude).max(0) as usize;
    let scale = 10f64.powi(magnitude + 1 - significant as i32);
    let rounded = (value / scale).round() * scale;
    let text = format!("{rounded:.decimals$}");
    let (sign, digits) = text
        .strip_prefix('-')
        .map_or(("", &*text), |rest| ("-", rest));
    let (whole, fraction) = digits
        .split_once('.')
        .map_or((digits, None), |(w, f)| (w, Some(f)));
    let mut grouped = String::new();
    for (i, digit) in whole.chars().enumerate() {
        if whole.len() >= 5 && i > 0 && (whole.len() - i) % 3 == 0 {
            grouped.push('\u{2009}');
        }
        grouped.push(digit);
    }
    match fraction {
        Some(fraction) => format!("{sign}{grouped}.{fraction}"),
        None => format!("{sign}{grouped}"),
    }
}

/// A time in seconds as the book prints it: two significant digits in the unit that
/// suits it (`6.4 ns`, `41 µs`, `3.1 ms`, `1.2 s`).
pub fn time_text(seconds: f64) -> String {
    let (scale, unit) = match seconds.abs() {
        s if s < 1e-6 => (1e9, "ns"),
        s if s < 1e-3 => (1e6, "µs"),
        s if s < 1.0 => (1e3, "ms"),
        _ => (1.0, "s"),
    };
    format!("{} {unit}", number(seconds * scale, 2))
}
