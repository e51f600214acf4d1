//! Resource-usage samples of sandboxes: cumulative counters (CPU time, network bytes) and the
//! memory in use, read by the server's sampler. Rates and percentiles are computed on read.

use rusqlite::params;

use super::{Store, StoreResult};

/// One reading of a sandbox's counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UsageSample {
    /// When it was read, Unix microseconds.
    pub ts: i64,
    /// CPU time used since the sandbox started, microseconds.
    pub cpu_usec: i64,
    /// Memory in use (page cache included), bytes.
    pub memory_bytes: i64,
    /// Bytes received by the sandbox's network interfaces since it started.
    pub rx_bytes: i64,
    /// Bytes sent by the sandbox's network interfaces since it started.
    pub tx_bytes: i64,
}

impl Store {
    /// Appends one sample per sandbox in a single transaction (one disk sync per round).
    /// Samples of sandboxes that do not exist are skipped.
    pub fn append_usage(&self, samples: &[(String, UsageSample)]) -> StoreResult<()> {
        if samples.is_empty() {
            return Ok(());
        }
        self.write(|tx| {
            let mut insert = tx.prepare_cached(
                "INSERT OR REPLACE INTO usage_samples
                 (sandbox_id, ts, cpu_usec, memory_bytes, rx_bytes, tx_bytes)
                 SELECT ?1, ?2, ?3, ?4, ?5, ?6 WHERE EXISTS (SELECT 1 FROM sandboxes WHERE id = ?1)",
            )?;
            for (id, s) in samples {
                insert.execute(params![id, s.ts, s.cpu_usec, s.memory_bytes, s.rx_bytes, s.tx_bytes])?;
            }
            Ok(())
        })
    }

    /// The samples of a sandbox with `from <= ts <= to`, oldest first, plus the last sample
    /// before `from` (so the first rate inside the window can be computed).
    pub fn usage(&self, sandbox_id: &str, from: i64, to: i64) -> StoreResult<Vec<UsageSample>> {
        self.read(|tx| {
            let decode = |r: &rusqlite::Row<'_>| {
                Ok(UsageSample {
                    ts: r.get(0)?,
                    cpu_usec: r.get(1)?,
                    memory_bytes: r.get(2)?,
                    rx_bytes: r.get(3)?,
                    tx_bytes: r.get(4)?,
                })
            };
            let mut before = tx.prepare_cached(
                "SELECT ts, cpu_usec, memory_bytes, rx_bytes, tx_bytes FROM usage_samples
                 WHERE sandbox_id = ?1 AND ts < ?2 ORDER BY ts DESC LIMIT 1",
            )?;
            let mut samples: Vec<UsageSample> =
                before.query_map(params![sandbox_id, from], decode)?.collect::<Result<_, _>>()?;
            let mut inside = tx.prepare_cached(
                "SELECT ts, cpu_usec, memory_bytes, rx_bytes, tx_bytes FROM usage_samples
                 WHERE sandbox_id = ?1 AND ts >= ?2 AND ts <= ?3 ORDER BY ts",
            )?;
            for sample in inside.query_map(params![sandbox_id, from, to], decode)? {
                samples.push(sample?);
            }
            Ok(samples)
        })
    }

    /// Drops samples older than `before` (Unix microseconds); returns how many.
    pub fn prune_usage(&self, before: i64) -> StoreResult<usize> {
        self.write(|tx| Ok(tx.execute("DELETE FROM usage_samples WHERE ts < ?1", [before])?))
    }
}
