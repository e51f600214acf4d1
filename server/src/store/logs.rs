//! Log lines of sandboxes and their execs (spec/README.md §6). They outlive the sandbox: rows
//! are kept in every phase, within each sandbox's retention cap (`retention.rs`).
//!
//! Reads are a "tail": the most recent `limit` lines (at or after `since` when given), returned
//! oldest first, and no more than [`MAX_READ_BYTES`] of JSON. Lines are ordered by emission
//! time, then by insertion order for equal times.
//!
//! Writes are split into short transactions (`ROWS_PER_TX` rows or `BYTES_PER_TX` bytes),
//! so a flood of lines never holds the store (and every request waiting for it) for long.

use porter_sandbox::types::{LogLine, LogLineLevel};
use rusqlite::params;

use super::retention::{self, Dropped};
use super::{Store, StoreError, StoreResult};
use crate::time::format_micros;

/// The longest line stored; longer ones are split (on character boundaries).
pub const MAX_LINE: usize = 64 * 1024;

/// The most JSON one read returns (the oldest lines of the tail are left out beyond it).
pub const MAX_READ_BYTES: usize = 8 << 20;

/// Rows written per transaction.
const ROWS_PER_TX: usize = 1000;
/// Line bytes written per transaction.
const BYTES_PER_TX: usize = 1 << 20;
/// JSON of a line beyond its text: timestamp, level, exec id and punctuation.
const LINE_JSON_OVERHEAD: usize = 96;

/// A log line to append.
#[derive(Debug, Clone, PartialEq)]
pub struct NewLogLine {
    /// Emission time, Unix microseconds.
    pub ts: i64,
    /// Severity (`error` for stderr, `info` for stdout).
    pub level: LogLineLevel,
    /// Content, without the trailing newline.
    pub line: String,
    /// The exec that produced the line; `""` for the workload's own output.
    pub exec_id: String,
}

/// A line (or a piece of a long one) as written.
#[derive(Debug, Clone, Copy)]
pub(super) struct Piece<'a> {
    pub(super) ts: i64,
    pub(super) level: &'a str,
    pub(super) line: &'a str,
    pub(super) exec_id: &'a str,
}

/// The bytes JSON takes to encode `text` as a string's content (NUL and other control
/// characters take six: `\u0000`).
#[must_use]
pub fn json_len(text: &str) -> usize {
    text.chars()
        .map(|c| match c {
            '"' | '\\' | '\n' | '\r' | '\t' | '\u{8}' | '\u{c}' => 2,
            c if (c as u32) < 0x20 => 6,
            c => c.len_utf8(),
        })
        .sum()
}

/// Splits `line` into pieces of at most [`MAX_LINE`] bytes, on character boundaries.
fn split_long(line: &str) -> impl Iterator<Item = &str> {
    let mut rest = line;
    let mut first = true;
    std::iter::from_fn(move || {
        if rest.is_empty() && !std::mem::take(&mut first) {
            return None;
        }
        first = false;
        let mut cut = rest.len().min(MAX_LINE);
        while !rest.is_char_boundary(cut) {
            cut -= 1;
        }
        let (piece, tail) = rest.split_at(cut);
        rest = tail;
        Some(piece)
    })
}

impl Store {
    /// Appends lines of one sandbox, in short transactions. Lines longer than [`MAX_LINE`] are
    /// split; beyond the sandbox's retention cap the oldest lines are dropped (a marker line
    /// says how many). `NotFound` when the sandbox does not exist.
    pub fn append_logs(&self, sandbox_id: &str, lines: &[NewLogLine]) -> StoreResult<()> {
        if lines.is_empty() {
            return Ok(());
        }
        let cap = self.log_retention();
        let pieces: Vec<Piece<'_>> = lines
            .iter()
            .flat_map(|l| {
                split_long(&l.line).map(move |line| Piece {
                    ts: l.ts,
                    level: l.level.as_str(),
                    line,
                    exec_id: &l.exec_id,
                })
            })
            .collect();
        // What the cap would drop anyway is never written.
        let mut total: u64 = pieces.iter().map(retention::cost).sum();
        let mut dropped = Dropped::default();
        let mut skip = 0;
        while total > cap && skip < pieces.len() {
            total -= retention::cost(&pieces[skip]);
            dropped.add(&pieces[skip]);
            skip += 1;
        }
        let mut rest = &pieces[skip..];
        loop {
            let mut end = 0;
            let mut bytes = 0;
            while end < rest.len() && end < ROWS_PER_TX && bytes < BYTES_PER_TX {
                bytes += rest[end].line.len();
                end += 1;
            }
            let (chunk, tail) = rest.split_at(end);
            let drops = std::mem::take(&mut dropped);
            self.write(|tx| {
                if !tx
                    .prepare_cached("SELECT 1 FROM sandboxes WHERE id = ?1")?
                    .exists([sandbox_id])?
                {
                    return Err(StoreError::NotFound);
                }
                let mut insert = tx.prepare_cached(
                    "INSERT INTO logs (sandbox_id, ts, level, line, exec_id)
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                )?;
                for p in chunk {
                    insert.execute(params![sandbox_id, p.ts, p.level, p.line, p.exec_id])?;
                }
                let added: u64 = chunk.iter().map(retention::cost).sum();
                retention::account(tx, sandbox_id, added, drops, cap)
            })?;
            rest = tail;
            if rest.is_empty() {
                return Ok(());
            }
        }
    }

    /// The most recent `limit` lines of the sandbox with `ts >= since` (inclusive: a line is
    /// never lost to a timestamp shared with the previous read), oldest first, at most
    /// [`MAX_READ_BYTES`] of JSON. `limit <= 0` gives no lines. An unknown sandbox simply has
    /// no lines; callers check existence.
    pub fn logs(
        &self,
        sandbox_id: &str,
        since: Option<i64>,
        limit: i64,
    ) -> StoreResult<Vec<LogLine>> {
        if limit <= 0 {
            return Ok(Vec::new());
        }
        let mut lines = self.read(|tx| {
            let mut stmt = tx.prepare_cached(
                "SELECT ts, level, line, exec_id FROM logs
                 WHERE sandbox_id = ?1 AND ts >= ?2
                 ORDER BY ts DESC, seq DESC LIMIT ?3",
            )?;
            let rows =
                stmt.query_map(params![sandbox_id, since.unwrap_or(i64::MIN), limit], |r| {
                    Ok(LogLine {
                        timestamp: format_micros(r.get(0)?),
                        level: LogLineLevel::from_wire(&r.get::<_, String>(1)?),
                        line: r.get(2)?,
                        exec_id: r.get(3)?,
                    })
                })?;
            let mut lines = Vec::new();
            let mut budget = MAX_READ_BYTES;
            for row in rows {
                let line = row?;
                let size = json_len(&line.line) + line.exec_id.len() + LINE_JSON_OVERHEAD;
                if size > budget {
                    break;
                }
                budget -= size;
                lines.push(line);
            }
            Ok(lines)
        })?;
        // Selected newest first to take the tail; returned oldest first.
        lines.reverse();
        Ok(lines)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_len_counts_escapes() {
        assert_eq!(json_len("abc"), 3);
        assert_eq!(json_len("\0"), 6);
        assert_eq!(json_len("a\"\n"), 5);
        assert_eq!(json_len("é"), 2);
        let encoded = serde_json::to_string("x\0\u{1f}\t\\é\"").unwrap_or_default();
        assert_eq!(json_len("x\0\u{1f}\t\\é\""), encoded.len() - 2);
    }

    #[test]
    fn long_lines_split_on_char_boundaries() {
        let long = format!("{}é{}", "x".repeat(MAX_LINE - 1), "y".repeat(10));
        let pieces: Vec<&str> = split_long(&long).collect();
        assert_eq!(pieces.len(), 2);
        assert_eq!(pieces[0].len(), MAX_LINE - 1);
        assert_eq!(pieces[1], format!("é{}", "y".repeat(10)));
        assert_eq!(split_long("").collect::<Vec<_>>(), [""]);
        assert_eq!(split_long("a").collect::<Vec<_>>(), ["a"]);
    }
}
