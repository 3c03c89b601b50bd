use regex::{Captures, Regex};

/// Replaces run-dependent numbers in transcripts before they reach a snapshot.
///
/// Pids are written by the programs as `pid 1234` (also `pid=1234`, `pid: 1234`,
/// `parent=1234`, as in Python's `repr` of a process). Each
/// pid the test knows gets a label (`pid <main>`); a pid the test does not know becomes
/// `pid <unknown>`, so a snapshot still catches a wrong pid. Thread ids (`ThreadId(7)`)
/// and fd numbers (`fd 5`) are replaced by placeholders.
#[derive(Debug, Default)]
pub struct Redactor {
    pids: Vec<(i32, String)>,
}

impl Redactor {
    /// A redactor that knows no pid yet.
    pub fn new() -> Redactor {
        Redactor::default()
    }

    /// Writes `pid` as `<label>` in redacted text.
    pub fn pid(mut self, pid: i32, label: &str) -> Redactor {
        self.pids.push((pid, label.to_owned()));
        self
    }

    /// The redacted text.
    pub fn apply(&self, text: &str) -> String {
        let pid = Regex::new(r"(?i)\b(pid[ =:]+|parent=)(-?\d+)\b").unwrap();
        let text = pid.replace_all(text, |c: &Captures| {
            let value: i32 = c[2].parse().unwrap_or(i32::MIN);
            let label = self
                .pids
                .iter()
                .find(|(p, _)| *p == value)
                .map(|(_, l)| l.as_str())
                .unwrap_or("unknown");
            format!("{}<{label}>", &c[1])
        });
        let thread = Regex::new(r"ThreadId\(\d+\)").unwrap();
        let text = thread.replace_all(&text, "ThreadId(<n>)");
        let fd = Regex::new(r"\bfd (\d+)\b").unwrap();
        fd.replace_all(&text, "fd <n>").into_owned()
    }

    /// [`Redactor::apply`] on each line.
    pub fn lines(&self, lines: &[String]) -> Vec<String> {
        lines.iter().map(|l| self.apply(l)).collect()
    }
}

/// Asserts that `actual` and `expected` hold the same lines the same number of times,
/// in any order: for output whose interleaving no primitive guarantees.
#[track_caller]
pub fn assert_same_lines<A: AsRef<str>, E: AsRef<str>>(actual: &[A], expected: &[E]) {
    let mut actual: Vec<&str> = actual.iter().map(AsRef::as_ref).collect();
    let mut expected: Vec<&str> = expected.iter().map(AsRef::as_ref).collect();
    actual.sort_unstable();
    expected.sort_unstable();
    if actual == expected {
        return;
    }
    let missing = difference(&expected, &actual);
    let unexpected = difference(&actual, &expected);
    panic!(
        "the lines differ (order aside)\n  missing:    {missing:?}\n  unexpected: {unexpected:?}"
    );
}

/// The multiset `a - b` of two sorted slices.
fn difference<'a>(a: &[&'a str], b: &[&str]) -> Vec<&'a str> {
    let mut b = b.iter().peekable();
    let mut out = Vec::new();
    for &x in a {
        while b.peek().is_some_and(|y| **y < x) {
            b.next();
        }
        if b.peek().is_some_and(|y| **y == x) {
            b.next();
        } else {
            out.push(x);
        }
    }
    out
}
