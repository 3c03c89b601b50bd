//! Rows printed one at a time under a header, in fixed-width columns, so that the table
//! grows while the tests run.

/// Column widths, fixed before the first row.
pub struct Table {
    widths: Vec<usize>,
}

impl Table {
    /// A table whose columns are as wide as `headers` or `min_widths`, whichever is
    /// wider; prints the header.
    pub fn start(headers: &[&str], min_widths: &[usize]) -> Table {
        let widths = headers
            .iter()
            .enumerate()
            .map(|(i, h)| {
                h.chars()
                    .count()
                    .max(min_widths.get(i).copied().unwrap_or(0))
            })
            .collect();
        let table = Table { widths };
        let owned: Vec<String> = headers.iter().map(|h| h.to_string()).collect();
        table.row(&owned);
        table
    }

    /// Prints one row; the last cell is not padded, so it may be as long as it likes.
    pub fn row(&self, cells: &[String]) {
        let mut line = String::new();
        for (i, cell) in cells.iter().enumerate() {
            let width = self.widths.get(i).copied().unwrap_or(0);
            if i + 1 == cells.len() {
                line.push_str(cell);
            } else {
                line.push_str(&format!("{cell:<width$}  "));
            }
        }
        println!("{}", line.trim_end());
    }
}

/// `text` with `prefix` before each line, for details under a row.
pub fn indent(text: &str, prefix: &str) -> String {
    text.trim_end()
        .lines()
        .map(|line| format!("{prefix}{line}"))
        .collect::<Vec<_>>()
        .join("\n")
}
