//! The option objects of the JavaScript surface (camelCase names), as the core's parameters.

use indexmap::IndexMap;
use porter_sandbox::{
    LogsQuery,
    api::{ListSandboxesParams, SandboxFilter},
    types::SandboxesPhase,
};
use serde::Deserialize;

/// One value or several (`phase: 'running'` or `phase: ['queued', 'running']`).
#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    fn into_vec(self) -> Vec<String> {
        match self {
            Self::One(one) => vec![one],
            Self::Many(many) => many,
        }
    }
}

/// Filters and paging of `sandboxes.list` / `counts`, in both the ergonomic form (`tags` as a
/// record) and the low-level one (`tag` as `key=value` strings).
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SandboxListOptions {
    start_time: Option<String>,
    end_time: Option<String>,
    search: Option<String>,
    tags: Option<IndexMap<String, String>>,
    tag: Option<OneOrMany>,
    phase: Option<OneOrMany>,
    image: Option<String>,
    include_filter_values: Option<bool>,
    page: Option<i64>,
}

impl SandboxListOptions {
    /// The core's filter (tags first, in record order, then `tag` strings).
    pub fn filter(&mut self) -> SandboxFilter {
        let mut filter = SandboxFilter {
            start_time: self.start_time.take(),
            end_time: self.end_time.take(),
            search: self.search.take(),
            image: self.image.take(),
            ..SandboxFilter::default()
        };
        for (key, value) in self.tags.take().unwrap_or_default() {
            filter = filter.tag(key, value);
        }
        filter.tag.extend(self.tag.take().map(OneOrMany::into_vec).unwrap_or_default());
        filter.phase = self
            .phase
            .take()
            .map(OneOrMany::into_vec)
            .unwrap_or_default()
            .iter()
            .map(|p| SandboxesPhase::from_wire(p))
            .collect();
        filter
    }

    /// The core's list parameters.
    pub fn params(mut self) -> ListSandboxesParams {
        ListSandboxesParams {
            filter: self.filter(),
            include_filter_values: self.include_filter_values,
            page: self.page,
        }
    }
}

/// `{ since, limit }` of `logs` / `getLogs`.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LogsOptions {
    since: Option<String>,
    limit: Option<i64>,
}

impl From<LogsOptions> for LogsQuery {
    fn from(options: LogsOptions) -> Self {
        Self { since: options.since, limit: options.limit }
    }
}

/// `{ timeoutMs, workdir, env, stdin }` of `sandbox.exec` (extensions of the local server).
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ExecOptionsJs {
    timeout_ms: Option<f64>,
    workdir: Option<String>,
    env: Option<IndexMap<String, String>>,
    stdin: Option<String>,
}

impl ExecOptionsJs {
    /// The core's options; `timeoutMs` must be a finite number ≥ 0 (the core refuses 0).
    pub fn into_options(self) -> napi::Result<porter_sandbox::ExecOptions> {
        let mut options = porter_sandbox::ExecOptions::new();
        options.timeout = crate::convert::timeout(self.timeout_ms)?;
        options.workdir = self.workdir;
        options.env = self.env.unwrap_or_default();
        options.stdin = self.stdin;
        Ok(options)
    }
}

/// `{ since }` of `getMetricsSummary`.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SinceOptions {
    /// Window start.
    pub since: Option<String>,
}

/// `{ metric, startTimeUtc, endTimeUtc }` of `getMetrics`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MetricsOptions {
    /// The metric.
    pub metric: String,
    /// Window start.
    pub start_time_utc: String,
    /// Window end.
    pub end_time_utc: String,
}

/// `{ name }` of the lookups.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NameOptions {
    /// The name to resolve.
    pub name: String,
}

/// `{ sandboxId }` of `snapshots.list`.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SnapshotListOptions {
    /// Only the snapshots of this sandbox.
    pub sandbox_id: Option<String>,
}

/// `{ path, search }` of `listFiles`.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ListFilesOptions {
    /// Directory to list.
    pub path: Option<String>,
    /// Name filter.
    pub search: Option<String>,
}

/// `{ path, range }` of the low-level `readFile`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ReadFileOptions {
    /// File path, sent as given.
    pub path: String,
    /// Raw `Range` header value.
    pub range: Option<String>,
}

/// `{ path }` of the low-level `writeFile`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PathOptions {
    /// File path, sent as given.
    pub path: String,
}
