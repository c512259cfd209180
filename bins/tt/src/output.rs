//! Everything the CLI prints goes through here: data on stdout (tables on a terminal,
//! tab-separated text when piped, one JSON document with `--json`), diagnostics on stderr.
//! Colour comes from anstream, which drops it when the stream is not a terminal or
//! `NO_COLOR` is set.

use std::fmt::Display;
use std::io::{self, IsTerminal, Write};

use anstyle::{AnsiColor, Style};
use serde::Serialize;
use tt_client::Paged;

/// Bold, for headings.
pub(crate) const BOLD: Style = Style::new().bold();
/// Green, for good news.
pub(crate) const GOOD: Style = AnsiColor::Green.on_default();
/// Red, for failures.
pub(crate) const BAD: Style = AnsiColor::Red.on_default().bold();
/// Yellow, for warnings.
pub(crate) const WARN: Style = AnsiColor::Yellow.on_default().bold();
/// Dim, for secondary text.
pub(crate) const DIM: Style = Style::new().dimmed();

/// The printer, configured once from the global flags.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Output {
    json: bool,
    terminal: bool,
}

impl Output {
    /// A printer for `--json` mode or human mode.
    pub(crate) fn new(json: bool) -> Self {
        Self { json, terminal: io::stdout().is_terminal() }
    }

    /// Whether `--json` was given.
    pub(crate) fn is_json(&self) -> bool {
        self.json
    }

    /// Prints one JSON document on stdout.
    pub(crate) fn json<T: Serialize + ?Sized>(&self, value: &T) -> anyhow::Result<()> {
        let text = serde_json::to_string_pretty(value)?;
        // Written as text so that a closed pipe surfaces as an io::Error, which counts as success.
        writeln!(io::stdout().lock(), "{text}")?;
        Ok(())
    }

    /// Prints a line of data on stdout.
    pub(crate) fn line(&self, text: impl Display) -> io::Result<()> {
        writeln!(anstream::stdout().lock(), "{text}")
    }

    /// Prints a styled heading on stdout.
    pub(crate) fn heading(&self, text: impl Display) -> io::Result<()> {
        writeln!(anstream::stdout().lock(), "{BOLD}{text}{BOLD:#}")
    }

    /// Prints `label  value` pairs with the values aligned.
    pub(crate) fn fields(&self, pairs: &[(&str, String)]) -> io::Result<()> {
        let width = pairs.iter().map(|(label, _)| label.chars().count()).max().unwrap_or(0);
        let mut out = anstream::stdout().lock();
        for (label, value) in pairs {
            writeln!(out, "  {DIM}{label:<width$}{DIM:#}  {value}")?;
        }
        Ok(())
    }

    /// Prints rows as a table on a terminal, or as tab-separated lines with a header when piped.
    pub(crate) fn table(&self, headers: &[&str], rows: Vec<Vec<String>>) -> io::Result<()> {
        let mut out = io::stdout().lock();
        if self.terminal {
            let mut table = comfy_table::Table::new();
            table
                .load_preset(comfy_table::presets::UTF8_HORIZONTAL_ONLY)
                .set_header(headers.to_vec());
            for row in rows {
                table.add_row(row);
            }
            writeln!(out, "{table}")
        } else {
            let clean = |cell: &str| cell.replace(['\t', '\n', '\r'], " ");
            writeln!(out, "{}", headers.join("\t"))?;
            for row in rows {
                writeln!(
                    out,
                    "{}",
                    row.iter().map(|cell| clean(cell)).collect::<Vec<_>>().join("\t")
                )?;
            }
            Ok(())
        }
    }

    /// Prints one page of a list: its items as one JSON array with `--json`; otherwise a
    /// table of `row(item)` under `headers` and a `page N of M <noun>` note on stderr.
    pub(crate) fn page<T: Serialize>(
        &self,
        page: &Paged<T>,
        noun: &str,
        headers: &[&str],
        row: impl FnMut(&T) -> Vec<String>,
    ) -> anyhow::Result<()> {
        if self.json {
            return self.json(&page.items);
        }
        self.table(headers, page.items.iter().map(row).collect())?;
        self.note(format_args!("page {} of {} {noun}", page.meta.page, page.meta.total));
        Ok(())
    }

    /// An id as shown in tables: its first 8 characters on a terminal (enough to use as a
    /// prefix), in full when piped so that scripts get the real id.
    pub(crate) fn short_id(&self, id: impl Display) -> String {
        let id = id.to_string();
        if self.terminal { id.chars().take(8).collect() } else { id }
    }

    /// A diagnostic line on stderr. Failing to write diagnostics is not worth failing for.
    pub(crate) fn note(&self, text: impl Display) {
        let _ = writeln!(anstream::stderr().lock(), "{text}");
    }

    /// A warning on stderr.
    pub(crate) fn warn(&self, text: impl Display) {
        let _ = writeln!(anstream::stderr().lock(), "{WARN}warning:{WARN:#} {text}");
    }

    /// An error and what to do next: on stderr, or as `{"error": {…}}` on stdout with `--json`.
    pub(crate) fn error(&self, report: &ErrorReport) {
        if self.json {
            let _ = self.json(&serde_json::json!({ "error": report }));
            return;
        }
        let mut err = anstream::stderr().lock();
        let _ = writeln!(err, "{BAD}error:{BAD:#} {}", report.message);
        if let Some(details) = &report.details {
            let _ = writeln!(err, "  {DIM}details:{DIM:#} {details}");
        }
        if let Some(hint) = &report.hint {
            let _ = writeln!(err, "  {GOOD}hint:{GOOD:#} {hint}");
        }
    }
}

/// An error as the user sees it.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct ErrorReport {
    /// A machine-readable code (the API's, or a CLI one such as `connection_error`).
    pub(crate) code: String,
    /// What went wrong, with its causes.
    pub(crate) message: String,
    /// The API's details, when it sent any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) details: Option<serde_json::Value>,
    /// What to do next.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) hint: Option<String>,
}

/// `text` on one line, cut to `max` characters with an ellipsis.
pub(crate) fn truncate(text: &str, max: usize) -> String {
    let flat: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() <= max {
        return flat;
    }
    let mut cut: String = flat.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

/// A 0–1 fraction as a percentage with one decimal.
pub(crate) fn percent(fraction: f64) -> String {
    format!("{:.1}%", fraction * 100.0)
}

/// A 0–1 score with two decimals.
pub(crate) fn score(value: f64) -> String {
    format!("{value:.2}")
}

/// An optional value, or a dash.
pub(crate) fn or_dash<T: Display>(value: Option<T>) -> String {
    value.map_or_else(|| "-".to_owned(), |v| v.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_text_is_flattened_and_cut_with_an_ellipsis() {
        assert_eq!(truncate("a\nb  c", 10), "a b c");
        assert_eq!(truncate("abcdefghijk", 5), "abcd…");
    }
}
