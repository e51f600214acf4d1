//! Sandbox endpoints.

use std::{sync::Arc, time::Duration};

use crate::{
    Result,
    transport::{RequestSpec, RequestTimeout, Transport, segment},
    types::{
        CountResponse, CreateResponse, ExecRequest, ExecResponse, ListResponse, LogsResponse,
        LookupResult, MetricSummaryResponse, SandboxMetric, SandboxMetricsResponse, SandboxSpec,
        SandboxesPhase, SandboxesSource, StatusResponse,
    },
};

pub use crate::types::IDEMPOTENCY_KEY_HEADER;

/// A fresh idempotency key: 128 random bits as 32 hex digits.
#[must_use]
pub fn new_idempotency_key() -> String {
    format!("{:032x}", rand::random::<u128>())
}

/// Filters shared by the list and counts endpoints. Every field left unset is omitted.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SandboxFilter {
    /// Start of the creation-time window.
    pub start_time: Option<String>,
    /// End of the creation-time window.
    pub end_time: Option<String>,
    /// Name prefix.
    pub search: Option<String>,
    /// `key=value` tags; all must match.
    pub tag: Vec<String>,
    /// Phases; any may match.
    pub phase: Vec<SandboxesPhase>,
    /// Image.
    pub image: Option<String>,
}

impl SandboxFilter {
    /// No filter.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Requires the tag `key=value`.
    #[must_use]
    pub fn tag(mut self, key: impl AsRef<str>, value: impl AsRef<str>) -> Self {
        self.tag.push(format!("{}={}", key.as_ref(), value.as_ref()));
        self
    }

    /// Accepts sandboxes in `phase` (several phases are OR-ed).
    #[must_use]
    pub fn phase(mut self, phase: SandboxesPhase) -> Self {
        self.phase.push(phase);
        self
    }

    /// Requires a name starting with `prefix`.
    #[must_use]
    pub fn search(mut self, prefix: impl Into<String>) -> Self {
        self.search = Some(prefix.into());
        self
    }

    /// Requires `image`.
    #[must_use]
    pub fn image(mut self, image: impl Into<String>) -> Self {
        self.image = Some(image.into());
        self
    }

    /// Only sandboxes created at or after `time`.
    #[must_use]
    pub fn start_time(mut self, time: impl Into<String>) -> Self {
        self.start_time = Some(time.into());
        self
    }

    /// Only sandboxes created at or before `time`.
    #[must_use]
    pub fn end_time(mut self, time: impl Into<String>) -> Self {
        self.end_time = Some(time.into());
        self
    }

    fn apply(&self, spec: RequestSpec) -> RequestSpec {
        spec.query_opt("start_time", self.start_time.as_ref())
            .query_opt("end_time", self.end_time.as_ref())
            .query_opt("search", self.search.as_ref())
            .query_all("tag", &self.tag)
            .query_all("phase", &self.phase)
            .query_opt("image", self.image.as_ref())
    }
}

/// Parameters of `GET /v1/sandbox`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ListSandboxesParams {
    /// Which sandboxes.
    pub filter: SandboxFilter,
    /// Also return the cluster-wide filter options.
    pub include_filter_values: Option<bool>,
    /// 1-based page.
    pub page: Option<i64>,
}

impl ListSandboxesParams {
    /// The first page, unfiltered.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the filter.
    #[must_use]
    pub fn filter(mut self, filter: SandboxFilter) -> Self {
        self.filter = filter;
        self
    }

    /// Sets the page (1-based).
    #[must_use]
    pub fn page(mut self, page: i64) -> Self {
        self.page = Some(page);
        self
    }

    /// Asks for `filter_values` in the response.
    #[must_use]
    pub fn include_filter_values(mut self, include: bool) -> Self {
        self.include_filter_values = Some(include);
        self
    }
}

impl From<SandboxFilter> for ListSandboxesParams {
    fn from(filter: SandboxFilter) -> Self {
        Self { filter, ..Self::default() }
    }
}

/// The sandbox endpoints.
#[derive(Debug, Clone)]
pub struct SandboxesApi {
    pub(super) transport: Arc<Transport>,
}

impl SandboxesApi {
    pub(crate) fn new(transport: Arc<Transport>) -> Self {
        Self { transport }
    }

    /// `GET /v1/sandbox`: one page of sandboxes.
    pub async fn list_sandboxes(&self, params: &ListSandboxesParams) -> Result<ListResponse> {
        let spec = params
            .filter
            .apply(RequestSpec::get("/v1/sandbox"))
            .query_opt("include_filter_values", params.include_filter_values)
            .query_opt("page", params.page);
        self.transport.execute(spec).await?.json().await
    }

    /// `GET /v1/sandbox/counts`: sandboxes created per time bucket.
    pub async fn sandbox_counts(&self, filter: &SandboxFilter) -> Result<CountResponse> {
        let spec = filter.apply(RequestSpec::get("/v1/sandbox/counts"));
        self.transport.execute(spec).await?.json().await
    }

    /// `POST /v1/sandbox/run`: create a sandbox and queue it (202). Sends a fresh random
    /// `Idempotency-Key` (see [`new_idempotency_key`]), the same on every retry of this call, so
    /// that a server which honours it creates one sandbox however many attempts arrive.
    pub async fn create_sandbox(&self, body: &SandboxSpec) -> Result<CreateResponse> {
        self.create_sandbox_with_key(body, &new_idempotency_key()).await
    }

    /// `POST /v1/sandbox/run` with the caller's `Idempotency-Key`: calls repeated with the same
    /// key and body (within 24 h on the local server) return the first call's sandbox.
    pub async fn create_sandbox_with_key(
        &self,
        body: &SandboxSpec,
        idempotency_key: &str,
    ) -> Result<CreateResponse> {
        let spec = RequestSpec::post("/v1/sandbox/run")
            .json(body)?
            .header(IDEMPOTENCY_KEY_HEADER, idempotency_key);
        self.transport.execute(spec).await?.json().await
    }

    /// `POST /v1/sandbox/{id}/lease` (an extension of the local Porter server): renews the
    /// sandbox's lease for another `lease_seconds`. Not retried: the caller renews again soon.
    pub async fn renew_sandbox_lease(&self, id: &str) -> Result<()> {
        let spec = RequestSpec::post(format!("/v1/sandbox/{}/lease", segment(id))).no_retry();
        self.transport.execute(spec).await.map(drop)
    }

    /// `GET /v1/sandbox/lookup?name=`: resolve a sandbox name to its id.
    pub async fn lookup_sandbox(&self, name: &str) -> Result<LookupResult> {
        let spec = RequestSpec::get("/v1/sandbox/lookup").query("name", name);
        self.transport.execute(spec).await?.json().await
    }

    /// `GET /v1/sandbox/{id}`: the sandbox's status.
    pub async fn get_sandbox(&self, id: &str) -> Result<StatusResponse> {
        let spec = RequestSpec::get(format!("/v1/sandbox/{}", segment(id)));
        self.transport.execute(spec).await?.json().await
    }

    /// `DELETE /v1/sandbox/{id}`: terminate, optionally saying who asked.
    pub async fn delete_sandbox(&self, id: &str, source: Option<&SandboxesSource>) -> Result<()> {
        let spec =
            RequestSpec::delete(format!("/v1/sandbox/{}", segment(id))).query_opt("source", source);
        self.transport.execute(spec).await.map(drop)
    }

    /// `GET /v1/sandbox/{id}/logs`: log lines of the workload and of every exec.
    pub async fn get_sandbox_logs(
        &self,
        id: &str,
        limit: Option<i64>,
        since: Option<&str>,
    ) -> Result<LogsResponse> {
        let spec = RequestSpec::get(format!("/v1/sandbox/{}/logs", segment(id)))
            .query_opt("limit", limit)
            .query_opt("since", since);
        self.transport.execute(spec).await?.json().await
    }

    /// `POST /v1/sandbox/{id}/exec`: run a command and wait for it. Never retried (a retry could
    /// run the command twice); `timeout` `None` waits as long as the command runs.
    pub async fn exec_sandbox(
        &self,
        id: &str,
        body: &ExecRequest,
        timeout: Option<Duration>,
    ) -> Result<ExecResponse> {
        let spec = RequestSpec::post(format!("/v1/sandbox/{}/exec", segment(id)))
            .json(body)?
            .timeout(RequestTimeout::unbounded_or(timeout))
            .no_retry();
        self.transport.execute(spec).await?.json().await
    }

    /// `GET /v1/sandbox/{id}/metrics-summary`: p50/p90 CPU and memory over a window.
    pub async fn get_sandbox_metrics_summary(
        &self,
        id: &str,
        since: Option<&str>,
    ) -> Result<MetricSummaryResponse> {
        let spec = RequestSpec::get(format!("/v1/sandbox/{}/metrics-summary", segment(id)))
            .query_opt("since", since);
        self.transport.execute(spec).await?.json().await
    }

    /// `GET /v1/sandbox/{id}/metrics`: one metric's time series.
    pub async fn get_sandbox_metrics(
        &self,
        id: &str,
        metric: &SandboxMetric,
        start_time_utc: &str,
        end_time_utc: &str,
    ) -> Result<SandboxMetricsResponse> {
        let spec = RequestSpec::get(format!("/v1/sandbox/{}/metrics", segment(id)))
            .query("metric", metric)
            .query("start_time_utc", start_time_utc)
            .query("end_time_utc", end_time_utc);
        self.transport.execute(spec).await?.json().await
    }
}
