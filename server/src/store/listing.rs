//! Sandbox listing, counting and filter values (spec/README.md §5).
//!
//! Filters: the time window `[start_time, end_time)` on `created_at` (start inclusive, end
//! exclusive, like the count buckets), `search` as a case-insensitive name prefix (`%` and `_`
//! match themselves), every tag must match (AND), any phase may match (OR), and an exact image.

use rusqlite::types::Value;

use super::sandboxes::{COLUMNS, decode};
use super::{SandboxRow, Store, StoreError, StoreResult};

/// Most buckets one `counts` call may produce, so a tiny width over a long window cannot
/// exhaust memory.
pub const MAX_BUCKETS: i64 = 100_000;

/// Filters of a sandbox listing or count; the default matches every sandbox.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SandboxQuery {
    /// Only sandboxes created at or after this time (Unix microseconds).
    pub start_time: Option<i64>,
    /// Only sandboxes created before this time (Unix microseconds, exclusive).
    pub end_time: Option<i64>,
    /// Case-insensitive name prefix, matched literally.
    pub search: Option<String>,
    /// `(key, value)` pairs that must all be tags of the sandbox.
    pub tags: Vec<(String, String)>,
    /// Wire phase names, any of which matches; empty means every phase.
    pub phases: Vec<String>,
    /// Exact image.
    pub image: Option<String>,
}

impl SandboxQuery {
    /// The SQL condition (over table `sandboxes`) and its parameters, in textual order.
    fn condition(&self) -> (String, Vec<Value>) {
        let mut conds: Vec<String> = vec!["1".to_owned()];
        let mut params: Vec<Value> = Vec::new();
        if let Some(start) = self.start_time {
            conds.push("created_at >= ?".to_owned());
            params.push(Value::Integer(start));
        }
        if let Some(end) = self.end_time {
            conds.push("created_at < ?".to_owned());
            params.push(Value::Integer(end));
        }
        if let Some(search) = self.search.as_deref().filter(|s| !s.is_empty()) {
            // LIKE is case-insensitive for ASCII, which covers DNS-label names.
            conds.push(r"name LIKE ? ESCAPE '\'".to_owned());
            params.push(Value::Text(format!("{}%", escape_like(search))));
        }
        for (key, value) in &self.tags {
            conds.push(
                "EXISTS (SELECT 1 FROM sandbox_tags t \
                 WHERE t.sandbox_id = sandboxes.id AND t.key = ? AND t.value = ?)"
                    .to_owned(),
            );
            params.push(Value::Text(key.clone()));
            params.push(Value::Text(value.clone()));
        }
        if !self.phases.is_empty() {
            let marks = vec!["?"; self.phases.len()].join(", ");
            conds.push(format!("phase IN ({marks})"));
            params.extend(self.phases.iter().cloned().map(Value::Text));
        }
        if let Some(image) = &self.image {
            conds.push("image = ?".to_owned());
            params.push(Value::Text(image.clone()));
        }
        (conds.join(" AND "), params)
    }
}

/// Escapes the LIKE wildcards (and the escape character itself) so `text` matches literally.
fn escape_like(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '\\' | '%' | '_') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

impl Store {
    /// One page (1-based; `page < 1` reads as 1, `per_page < 1` as 1) of the matching
    /// sandboxes, newest first (`created_at DESC, id DESC`), and the total number that match.
    pub fn list_sandboxes(
        &self,
        query: &SandboxQuery,
        page: i64,
        per_page: i64,
    ) -> StoreResult<(Vec<SandboxRow>, i64)> {
        let per_page = per_page.max(1);
        let offset = (page.max(1) - 1).saturating_mul(per_page);
        let (cond, params) = query.condition();
        self.read(|tx| {
            let total: i64 = tx
                .prepare(&format!("SELECT COUNT(*) FROM sandboxes WHERE {cond}"))?
                .query_row(rusqlite::params_from_iter(&params), |r| r.get(0))?;
            let mut stmt = tx.prepare(&format!(
                "SELECT {COLUMNS} FROM sandboxes WHERE {cond}
                 ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?"
            ))?;
            let paged =
                params.iter().cloned().chain([Value::Integer(per_page), Value::Integer(offset)]);
            let mut rows = stmt.query(rusqlite::params_from_iter(paged))?;
            let mut out = Vec::new();
            while let Some(r) = rows.next()? {
                out.push(decode(r)?);
            }
            Ok((out, total))
        })
    }

    /// Sandboxes matching `query` created in `[start, end)`, counted per bucket of `granularity`
    /// microseconds: one `(bucket_start, count)` per bucket, oldest first and gap-free, the
    /// first bucket starting at `start` (align `start` yourself if you want round buckets). The
    /// query's own time window, if any, narrows the count further. Empty when `end <= start`;
    /// `Invalid` when `granularity <= 0` or the window needs more than [`MAX_BUCKETS`] buckets.
    pub fn counts(
        &self,
        query: &SandboxQuery,
        start: i64,
        end: i64,
        granularity: i64,
    ) -> StoreResult<Vec<(i64, i64)>> {
        if granularity <= 0 {
            return Err(StoreError::Invalid(format!("bucket width {granularity} µs")));
        }
        if end <= start {
            return Ok(Vec::new());
        }
        let span = end.saturating_sub(start);
        let buckets = span / granularity + i64::from(span % granularity != 0);
        if buckets > MAX_BUCKETS {
            return Err(StoreError::Invalid(format!(
                "{buckets} buckets requested, at most {MAX_BUCKETS}"
            )));
        }
        let (cond, cond_params) = query.condition();
        // Anonymous parameters are numbered in textual order: bucket expression, filters, window.
        let params = [Value::Integer(start), Value::Integer(granularity)]
            .into_iter()
            .chain(cond_params)
            .chain([Value::Integer(start), Value::Integer(end)]);
        let mut points: Vec<(i64, i64)> = (0..buckets)
            .map(|i| (start.saturating_add(i.saturating_mul(granularity)), 0))
            .collect();
        self.read(|tx| {
            let mut stmt = tx.prepare(&format!(
                "SELECT (created_at - ?) / ? AS bucket, COUNT(*) FROM sandboxes
                 WHERE {cond} AND created_at >= ? AND created_at < ?
                 GROUP BY bucket"
            ))?;
            let mut rows = stmt.query(rusqlite::params_from_iter(params))?;
            while let Some(r) = rows.next()? {
                let (bucket, count): (i64, i64) = (r.get(0)?, r.get(1)?);
                if let Some(point) = usize::try_from(bucket).ok().and_then(|b| points.get_mut(b)) {
                    point.1 = count;
                }
            }
            Ok(())
        })?;
        Ok(points)
    }

    /// Every distinct tag of any sandbox, as `key=value`, sorted.
    pub fn distinct_tags(&self) -> StoreResult<Vec<String>> {
        self.strings("SELECT DISTINCT key || '=' || value AS tag FROM sandbox_tags ORDER BY tag")
    }

    /// Every distinct non-empty image of any sandbox, sorted.
    pub fn distinct_images(&self) -> StoreResult<Vec<String>> {
        self.strings("SELECT DISTINCT image FROM sandboxes WHERE image != '' ORDER BY image")
    }

    /// The first column of every row of a parameterless query.
    fn strings(&self, sql: &str) -> StoreResult<Vec<String>> {
        self.read(|tx| {
            let mut stmt = tx.prepare_cached(sql)?;
            let values = stmt.query_map([], |r| r.get(0))?;
            Ok(values.collect::<Result<_, _>>()?)
        })
    }
}
