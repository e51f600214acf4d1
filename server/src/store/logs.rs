//! Log lines of sandboxes and their execs (spec/README.md §6). They outlive the sandbox: rows are
//! kept in every phase.
//!
//! Reads are a "tail": the most recent `limit` lines (at or after `since` when given), returned
//! oldest first. Lines are ordered by emission time, then by insertion order for equal times.

use porter_sandbox::types::{LogLine, LogLineLevel};
use rusqlite::params;

use super::{Store, StoreError, StoreResult};
use crate::time::format_micros;

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

impl Store {
    /// Appends a batch of lines of one sandbox in a single transaction (one disk sync per
    /// batch). `NotFound` when the sandbox does not exist.
    pub fn append_logs(&self, sandbox_id: &str, lines: &[NewLogLine]) -> StoreResult<()> {
        if lines.is_empty() {
            return Ok(());
        }
        self.write(|tx| {
            if !tx.prepare_cached("SELECT 1 FROM sandboxes WHERE id = ?1")?.exists([sandbox_id])? {
                return Err(StoreError::NotFound);
            }
            let mut insert = tx.prepare_cached(
                "INSERT INTO logs (sandbox_id, ts, level, line, exec_id)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?;
            for l in lines {
                insert.execute(params![sandbox_id, l.ts, l.level.as_str(), l.line, l.exec_id])?;
            }
            Ok(())
        })
    }

    /// The most recent `limit` lines of the sandbox with `ts >= since` (inclusive: a line is
    /// never lost to a timestamp shared with the previous read), oldest first. `limit <= 0`
    /// gives no lines. An unknown sandbox simply has no lines; callers check existence.
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
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })?;
        // Selected newest first to take the tail; returned oldest first.
        lines.reverse();
        Ok(lines)
    }
}
