//! The per-sandbox cap on stored log lines: beyond it the oldest lines are deleted and one
//! marker line (kept just before the oldest retained line) says how many were dropped.
//!
//! A line costs its bytes plus [`ROW_OVERHEAD`], so a flood of empty lines is capped too. The
//! running total per sandbox lives in `log_totals`, updated in the transaction that writes the
//! lines. Over the cap, lines are deleted down to 7/8 of it, so trimming is not paid per batch
//! (at most `MAX_TRIM_ROWS` per transaction: the next write goes on).

use rusqlite::{Transaction, params};

use super::StoreResult;
use super::logs::Piece;

/// The log lines kept per sandbox unless the server is told otherwise: 16 MiB.
pub const DEFAULT_LOG_RETENTION: u64 = 16 << 20;

/// What a stored line costs beyond its text (its ids, timestamp and index entry).
pub const ROW_OVERHEAD: u64 = 64;

/// The most lines one transaction deletes.
const MAX_TRIM_ROWS: usize = 8000;

/// The cost of one stored line.
pub(super) fn cost(piece: &Piece<'_>) -> u64 {
    piece.line.len() as u64 + ROW_OVERHEAD
}

/// Lines dropped by the cap.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct Dropped {
    lines: u64,
    bytes: u64,
    /// The newest emission time dropped (the marker takes it).
    ts: Option<i64>,
}

impl Dropped {
    pub(super) fn add(&mut self, piece: &Piece<'_>) {
        self.lines += 1;
        self.bytes += piece.line.len() as u64;
        self.ts = self.ts.max(Some(piece.ts));
    }
}

/// The marker line's text.
pub(super) fn marker_text(lines: u64, bytes: u64, cap: u64) -> String {
    format!(
        "[porter-sandbox: {lines} earlier log lines ({bytes} bytes) dropped: the sandbox's log \
         is capped at {}]",
        human(cap)
    )
}

fn human(bytes: u64) -> String {
    if bytes >= 1 << 20 && bytes % (1 << 20) == 0 {
        format!("{} MiB", bytes >> 20)
    } else if bytes >= 1 << 10 && bytes % (1 << 10) == 0 {
        format!("{} KiB", bytes >> 10)
    } else {
        format!("{bytes} bytes")
    }
}

/// Adds `added` to the sandbox's total, trims it back under `cap`, and records `dropped`
/// (lines never written) together with what the trim deleted in the marker line.
pub(super) fn account(
    tx: &Transaction<'_>,
    sandbox_id: &str,
    added: u64,
    mut dropped: Dropped,
    cap: u64,
) -> StoreResult<()> {
    tx.prepare_cached(
        "INSERT INTO log_totals (sandbox_id, bytes) VALUES (?1, ?2)
         ON CONFLICT (sandbox_id) DO UPDATE SET bytes = bytes + excluded.bytes",
    )?
    .execute(params![sandbox_id, clamp(added)])?;
    let (total, marker): (i64, Option<i64>) = tx
        .prepare_cached("SELECT bytes, marker_seq FROM log_totals WHERE sandbox_id = ?1")?
        .query_row([sandbox_id], |r| Ok((r.get(0)?, r.get(1)?)))?;
    let total = u64::try_from(total).unwrap_or(0);
    if total > cap {
        let target = cap - cap / 8;
        let freed = trim(tx, sandbox_id, marker, total - target, &mut dropped)?;
        tx.prepare_cached("UPDATE log_totals SET bytes = bytes - ?2 WHERE sandbox_id = ?1")?
            .execute(params![sandbox_id, clamp(freed)])?;
    }
    if dropped.lines > 0 {
        mark(tx, sandbox_id, marker, dropped, cap)?;
    }
    Ok(())
}

/// Deletes the oldest lines (never the marker) until `need` is freed or [`MAX_TRIM_ROWS`]
/// were deleted; returns what was freed.
fn trim(
    tx: &Transaction<'_>,
    sandbox_id: &str,
    marker: Option<i64>,
    need: u64,
    dropped: &mut Dropped,
) -> StoreResult<u64> {
    let mut select = tx.prepare_cached(
        "SELECT seq, ts, length(CAST(line AS BLOB)) FROM logs
         WHERE sandbox_id = ?1 AND seq != ?2 ORDER BY ts, seq",
    )?;
    let mut rows = select.query(params![sandbox_id, marker.unwrap_or(-1)])?;
    let mut freed = 0;
    let mut last = None;
    let mut walked = 0;
    // Bounded per transaction, so one trim never holds the store long; the next write goes on.
    while freed < need && walked < MAX_TRIM_ROWS {
        walked += 1;
        let Some(row) = rows.next()? else { break };
        let (seq, ts, len): (i64, i64, i64) = (row.get(0)?, row.get(1)?, row.get(2)?);
        let len = u64::try_from(len).unwrap_or(0);
        freed += len + ROW_OVERHEAD;
        dropped.lines += 1;
        dropped.bytes += len;
        dropped.ts = dropped.ts.max(Some(ts));
        last = Some((ts, seq));
    }
    drop(rows);
    if let Some((ts, seq)) = last {
        // Exactly the rows walked above: a prefix in (ts, seq) order.
        tx.prepare_cached(
            "DELETE FROM logs WHERE sandbox_id = ?1 AND seq != ?2
             AND (ts < ?3 OR (ts = ?3 AND seq <= ?4))",
        )?
        .execute(params![sandbox_id, marker.unwrap_or(-1), ts, seq])?;
    }
    Ok(freed)
}

/// Adds `dropped` to the sandbox's counts and writes (or moves) the marker line.
fn mark(
    tx: &Transaction<'_>,
    sandbox_id: &str,
    marker: Option<i64>,
    dropped: Dropped,
    cap: u64,
) -> StoreResult<()> {
    let (lines, bytes): (i64, i64) = tx
        .prepare_cached(
            "UPDATE log_totals SET dropped_lines = dropped_lines + ?2,
             dropped_bytes = dropped_bytes + ?3 WHERE sandbox_id = ?1
             RETURNING dropped_lines, dropped_bytes",
        )?
        .query_row(params![sandbox_id, clamp(dropped.lines), clamp(dropped.bytes)], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?;
    let text =
        marker_text(u64::try_from(lines).unwrap_or(0), u64::try_from(bytes).unwrap_or(0), cap);
    let ts = dropped.ts.unwrap_or_default();
    let updated = match marker {
        Some(seq) => tx
            .prepare_cached("UPDATE logs SET ts = max(ts, ?2), line = ?3 WHERE seq = ?1")?
            .execute(params![seq, ts, text])?,
        None => 0,
    };
    if updated == 0 {
        tx.prepare_cached(
            "INSERT INTO logs (sandbox_id, ts, level, line, exec_id)
             VALUES (?1, ?2, 'warning', ?3, '')",
        )?
        .execute(params![sandbox_id, ts, text])?;
        let seq = tx.last_insert_rowid();
        tx.prepare_cached("UPDATE log_totals SET marker_seq = ?2 WHERE sandbox_id = ?1")?
            .execute(params![sandbox_id, seq])?;
    }
    Ok(())
}

fn clamp(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}
