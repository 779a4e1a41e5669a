//! What a command prints: `--output table` (headers, aligned columns, for a
//! terminal) or `--output json` (for scripts: a listing is JSON Lines, one
//! object per line; a report is one JSON document). The field names are the
//! README's "Output for scripts" table, and stay stable.

use comfy_table::{Cell, CellAlignment, ContentArrangement, Table, presets};
use serde::Serialize;
use serde_json::Value;

/// The output formats of `--output`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Output {
    /// A table with headers, for a person at a terminal.
    #[default]
    Table,
    /// JSON for a script: JSON Lines for a listing, one document otherwise.
    Json,
}

/// The `--output` flag of every command that lists or shows something.
#[derive(Debug, Clone, Copy, clap::Args)]
pub struct OutputArgs {
    /// `table` (headers, for a terminal) or `json` (JSON Lines for a
    /// listing, one JSON document otherwise; field names in the README).
    #[arg(long, value_enum, default_value_t = Output::Table)]
    pub output: Output,
}

/// A listing under construction: its columns, then one row per item; each
/// row is also kept as a JSON object for `--output json`.
#[derive(Debug)]
pub struct Listing {
    columns: Vec<Column>,
    rows: Vec<Vec<String>>,
    objects: Vec<Value>,
}

/// One column of a [`Listing`]: its header and how it aligns.
#[derive(Debug, Clone, Copy)]
pub struct Column {
    header: &'static str,
    right: bool,
}

impl Column {
    /// A left-aligned column (text).
    pub const fn text(header: &'static str) -> Self {
        Self {
            header,
            right: false,
        }
    }

    /// A right-aligned column (numbers).
    pub const fn number(header: &'static str) -> Self {
        Self {
            header,
            right: true,
        }
    }
}

impl Listing {
    /// An empty listing with these columns.
    pub fn new(columns: &[Column]) -> Self {
        Self {
            columns: columns.to_vec(),
            rows: Vec::new(),
            objects: Vec::new(),
        }
    }

    /// Adds an item: its cells, in the columns' order, and its JSON form.
    pub fn push(&mut self, cells: Vec<String>, object: impl Serialize) {
        debug_assert_eq!(cells.len(), self.columns.len(), "one cell per column");
        self.rows.push(cells);
        self.objects
            .push(serde_json::to_value(object).unwrap_or(Value::Null));
    }

    /// Prints the listing to standard output as `output` says. An empty
    /// table prints its headers and `(none)`, so a person sees that the
    /// command ran; empty JSON Lines print nothing.
    pub fn print(&self, output: Output) {
        emit(&self.render(output));
    }

    /// The listing as [`Listing::print`] prints it.
    pub fn render(&self, output: Output) -> String {
        match output {
            Output::Json => self
                .objects
                .iter()
                .map(|o| format!("{o}\n"))
                .collect::<String>(),
            Output::Table => {
                let mut table = new_table();
                table.set_header(self.columns.iter().map(|c| Cell::new(c.header)));
                for row in &self.rows {
                    table.add_row(row.iter().map(Cell::new));
                }
                for (i, c) in self.columns.iter().enumerate() {
                    if let Some(column) = table.column_mut(i) {
                        column.set_cell_alignment(if c.right {
                            CellAlignment::Right
                        } else {
                            CellAlignment::Left
                        });
                    }
                }
                let mut text = format!("{}\n", trim_lines(&table.to_string()));
                if self.rows.is_empty() {
                    text.push_str("(none)\n");
                }
                text
            }
        }
    }
}

/// Prints one JSON document (`--output json` of a report or a single
/// result), on one line.
pub fn print_json(document: &impl Serialize) {
    emit(&format!(
        "{}\n",
        serde_json::to_value(document).unwrap_or(Value::Null)
    ));
}

/// Writes `text` to standard output. A reader that has gone away
/// (`warden users list | head -1`) ends the command quietly, as `ls` and
/// `grep` do, instead of a panic's backtrace.
pub fn emit(text: &str) {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("error: writing to standard output: {e}");
        std::process::exit(1);
    }
}

/// The tables' one style: no borders, two spaces between columns, as
/// `kubectl get` prints, so that `grep` and `awk` work on a row too.
fn new_table() -> Table {
    let mut table = Table::new();
    table
        .load_style(presets::NOTHING)
        .set_content_arrangement(ContentArrangement::Disabled);
    table
}

/// comfy-table pads every cell, the last one included, and leads each line
/// with a space: trim both, keeping the columns aligned.
fn trim_lines(text: &str) -> String {
    text.lines()
        .map(|l| l.strip_prefix(' ').unwrap_or(l).trim_end())
        .collect::<Vec<_>>()
        .join("\n")
}

/// A list of items as one cell: comma-separated, `-` when empty.
pub fn join<T: std::fmt::Display>(items: &[T]) -> String {
    if items.is_empty() {
        return "-".into();
    }
    items
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn listing() -> Listing {
        let mut l = Listing::new(&[Column::text("NAME"), Column::number("COUNT")]);
        l.push(
            vec!["alice".into(), "7".into()],
            json!({"name": "alice", "count": 7}),
        );
        l.push(
            vec!["bob-the-builder".into(), "12".into()],
            json!({"name": "bob-the-builder", "count": 12}),
        );
        l
    }

    #[test]
    fn a_table_has_headers_and_aligned_columns_and_no_trailing_spaces() {
        let text = listing().render(Output::Table);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{text}");
        assert!(lines[0].starts_with("NAME"), "{text}");
        // Numbers are right-aligned: every row ends at the same column.
        let ends: Vec<usize> = lines.iter().map(|l| l.len()).collect();
        assert!(ends.iter().all(|&e| e == ends[0]), "{text}");
        assert!(lines.iter().all(|l| !l.ends_with(' ')), "{text}");
        let count_at = lines[0].find("COUNT").unwrap();
        assert!(lines[1].starts_with("alice "), "{text}");
        assert_eq!(lines[2].find("12").unwrap(), count_at + "COUNT".len() - 2);
    }

    #[test]
    fn json_is_one_object_per_line() {
        let text = listing().render(Output::Json);
        let objects: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(objects[1], json!({"name": "bob-the-builder", "count": 12}));
        assert_eq!(objects.len(), 2);
    }

    #[test]
    fn an_empty_table_says_so_and_empty_json_lines_print_nothing() {
        let empty = Listing::new(&[Column::text("NAME")]);
        assert_eq!(empty.render(Output::Table), "NAME\n(none)\n");
        assert_eq!(empty.render(Output::Json), "");
    }
}
