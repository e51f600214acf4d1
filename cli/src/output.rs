//! What the commands print: aligned tables and field lists for people, the wire JSON for
//! scripts (`--json`), colour only on a terminal.
//!
//! Everything goes through `writeln!` on a locked stdout, so a closed pipe surfaces as an
//! `io::Error` (handled as a quiet exit) instead of a panic.

use std::io::{self, IsTerminal, Write};

use serde::Serialize;
use time::{OffsetDateTime, format_description::well_known::Rfc3339};

/// Whether colour may be used on a stream that is (or is not) a terminal: never when it is not,
/// never with `NO_COLOR` set or `TERM=dumb`.
pub fn color_enabled(is_terminal: bool) -> bool {
    is_terminal
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
        && std::env::var("TERM").map_or(true, |t| t != "dumb")
}

/// Whether stdout gets colour.
pub fn stdout_color() -> bool {
    color_enabled(io::stdout().is_terminal())
}

/// Whether stderr gets colour.
pub fn stderr_color() -> bool {
    color_enabled(io::stderr().is_terminal())
}

/// A text style.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// No styling.
    Plain,
    /// Green (running, success).
    Green,
    /// Yellow (on its way).
    Yellow,
    /// Red (failures, errors).
    Red,
    /// Dimmed (finished, secondary).
    Dim,
    /// Bold (headers).
    Bold,
}

/// `text` wrapped in the ANSI codes of `style` when `enabled`.
pub fn paint(text: &str, style: Style, enabled: bool) -> String {
    let code = match style {
        Style::Plain => return text.to_owned(),
        Style::Green => "32",
        Style::Yellow => "33",
        Style::Red => "31",
        Style::Dim => "2",
        Style::Bold => "1",
    };
    if enabled { format!("\x1b[{code}m{text}\x1b[0m") } else { text.to_owned() }
}

/// The style of a phase or status value (`running`, `failed`, `ready`…).
pub fn phase_style(phase: &str) -> Style {
    match phase {
        "running" | "ready" | "succeeded" => Style::Green,
        "queued" | "creating" | "pending" => Style::Yellow,
        "failed" => Style::Red,
        _ => Style::Dim,
    }
}

/// A JSON error as an I/O error that keeps the kind of the write error beneath it, so a closed
/// pipe (`| head`) is still recognised as one.
fn json_error(err: serde_json::Error) -> io::Error {
    match err.io_error_kind() {
        Some(kind) => io::Error::new(kind, err),
        None => io::Error::other(err),
    }
}

/// Prints `value` as pretty JSON (the wire shape) and a newline.
pub fn json<T: Serialize>(value: &T) -> io::Result<()> {
    let mut out = io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, value).map_err(json_error)?;
    writeln!(out)?;
    out.flush()
}

/// Prints `value` as one compact JSON line (JSON Lines, for streams).
pub fn json_line<T: Serialize>(value: &T) -> io::Result<()> {
    let mut out = io::stdout().lock();
    serde_json::to_writer(&mut out, value).map_err(json_error)?;
    writeln!(out)?;
    out.flush()
}

/// Prints one line on stdout.
pub fn line(text: impl std::fmt::Display) -> io::Result<()> {
    writeln!(io::stdout().lock(), "{text}")
}

/// Prints one line on stderr (progress and notes; never data).
pub fn note(text: impl std::fmt::Display) {
    let _ = writeln!(io::stderr().lock(), "{text}");
}

/// A table cell: text and style.
#[derive(Debug, Clone)]
pub struct Cell {
    text: String,
    style: Style,
}

impl Cell {
    /// A cell with `style`.
    pub fn styled(text: impl Into<String>, style: Style) -> Self {
        Self { text: text.into(), style }
    }
}

impl From<String> for Cell {
    fn from(text: String) -> Self {
        Self { text, style: Style::Plain }
    }
}

impl From<&str> for Cell {
    fn from(text: &str) -> Self {
        Self::from(text.to_owned())
    }
}

/// A table with a header row and aligned columns (padding is computed before colouring).
#[derive(Debug)]
pub struct Table {
    headers: Vec<&'static str>,
    rows: Vec<Vec<Cell>>,
}

impl Table {
    /// An empty table with these column headers.
    pub fn new(headers: &[&'static str]) -> Self {
        Self { headers: headers.to_vec(), rows: Vec::new() }
    }

    /// Appends a row (one cell per header).
    pub fn row(&mut self, cells: Vec<Cell>) {
        self.rows.push(cells);
    }

    /// Prints the table on stdout.
    pub fn print(&self) -> io::Result<()> {
        let color = stdout_color();
        let mut widths: Vec<usize> = self.headers.iter().map(|h| h.chars().count()).collect();
        for row in &self.rows {
            for (width, cell) in widths.iter_mut().zip(row) {
                *width = (*width).max(cell.text.chars().count());
            }
        }
        let mut out = io::stdout().lock();
        let header: Vec<Cell> =
            self.headers.iter().map(|h| Cell::styled(*h, Style::Bold)).collect();
        for row in std::iter::once(&header).chain(&self.rows) {
            let mut text = String::new();
            for (i, (cell, width)) in row.iter().zip(&widths).enumerate() {
                let last = i + 1 == row.len();
                text.push_str(&paint(&cell.text, cell.style, color));
                if !last {
                    let pad = width - cell.text.chars().count() + 2;
                    text.extend(std::iter::repeat_n(' ', pad));
                }
            }
            writeln!(out, "{}", text.trim_end())?;
        }
        Ok(())
    }
}

/// Prints `name: value` pairs with the values aligned (the human form of `get`).
pub fn fields(pairs: &[(&str, Cell)]) -> io::Result<()> {
    let color = stdout_color();
    let width = pairs.iter().map(|(name, _)| name.len()).max().unwrap_or(0);
    let mut out = io::stdout().lock();
    for (name, value) in pairs {
        let label = format!("{name}:");
        writeln!(out, "{label:<w$}  {}", paint(&value.text, value.style, color), w = width + 1)?;
    }
    Ok(())
}

/// How long ago an RFC 3339 time was, shortly (`42s ago`, `5m ago`, `3h ago`, `2d ago`); the
/// time itself when it does not parse.
pub fn age(rfc3339: &str) -> String {
    let Ok(then) = OffsetDateTime::parse(rfc3339, &Rfc3339) else {
        return rfc3339.to_owned();
    };
    let seconds = (OffsetDateTime::now_utc() - then).whole_seconds().max(0);
    match seconds {
        0..60 => format!("{seconds}s ago"),
        60..3600 => format!("{}m ago", seconds / 60),
        3600..86_400 => format!("{}h ago", seconds / 3600),
        _ => format!("{}d ago", seconds / 86_400),
    }
}

/// A byte count for people: `512 B`, `1.5 KiB`, `12.0 MiB`.
pub fn size(bytes: i64) -> String {
    const UNITS: [&str; 5] = ["KiB", "MiB", "GiB", "TiB", "PiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    #[allow(clippy::cast_precision_loss)] // display only
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// `1 image`, `2 images`: a count with the noun in the right number.
pub fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// `k=v,k2=v2`, or `-` when empty.
pub fn key_values<'a>(pairs: impl IntoIterator<Item = (&'a String, &'a String)>) -> String {
    let joined: Vec<String> = pairs.into_iter().map(|(k, v)| format!("{k}={v}")).collect();
    if joined.is_empty() { "-".to_owned() } else { joined.join(",") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(size(0), "0 B");
        assert_eq!(size(1023), "1023 B");
        assert_eq!(size(1536), "1.5 KiB");
        assert_eq!(size(5 * 1024 * 1024), "5.0 MiB");
    }

    #[test]
    fn ages() {
        let now = OffsetDateTime::now_utc();
        let ago = |s: i64| (now - time::Duration::seconds(s)).format(&Rfc3339).unwrap();
        assert_eq!(age(&ago(5)), "5s ago");
        assert_eq!(age(&ago(125)), "2m ago");
        assert_eq!(age(&ago(7300)), "2h ago");
        assert_eq!(age(&ago(200_000)), "2d ago");
        assert_eq!(age("not a time"), "not a time");
    }

    #[test]
    fn counts() {
        assert_eq!(count(1, "image", "images"), "1 image");
        assert_eq!(count(0, "image", "images"), "0 images");
        assert_eq!(count(2, "image", "images"), "2 images");
    }

    #[test]
    fn painting() {
        assert_eq!(paint("x", Style::Red, false), "x");
        assert_eq!(paint("x", Style::Red, true), "\x1b[31mx\x1b[0m");
        assert_eq!(paint("x", Style::Plain, true), "x");
        assert!(!color_enabled(false));
    }
}
