//! Sandboxes: the [`Sandboxes`] namespace and the [`Sandbox`] handle.

use std::sync::{Arc, Mutex, PoisonError, Weak};

use indexmap::IndexMap;

use crate::{
    ExecOptions, Process, ProcessSpec, Result, SandboxGuard,
    api::{ListSandboxesParams, SandboxesApi},
    lease::LeaseKeeper,
    types::{
        CreateResponse, ExecRequest, ExecResponse, LogLine, SandboxSpec, SandboxesSource,
        StatusResponse, StatusResponsePhase,
    },
};

/// The sandbox namespace of a [`Porter`](crate::Porter).
#[derive(Debug, Clone)]
pub struct Sandboxes {
    api: SandboxesApi,
    leases: Arc<LeaseKeeper>,
}

impl Sandboxes {
    pub(crate) fn new(api: SandboxesApi, leases: Arc<LeaseKeeper>) -> Self {
        Self { api, leases }
    }

    fn wrap(&self, id: String, status: Option<StatusResponse>) -> Sandbox {
        Sandbox::new(self.api.clone(), id, status).with_leases(Arc::downgrade(&self.leases))
    }

    /// Creates a sandbox (`POST /v1/sandbox/run`). The handle holds only the id: `phase` and
    /// `tags` are `None` until [`Sandbox::refresh`].
    ///
    /// The request carries a fresh `Idempotency-Key`, reused by its retries, so a retry after a
    /// lost response does not create a second sandbox. With `lease_seconds` set, this client
    /// renews the sandbox's lease in the background while it lives (see [`crate::lease`]).
    pub async fn create(&self, spec: impl Into<SandboxSpec>) -> Result<Sandbox> {
        let created = self.create_response(spec).await?;
        Ok(self.wrap(created.id, None))
    }

    /// [`Sandboxes::create`], returning the create response itself (id, name, mounts): what
    /// the bindings and the CLI need. Leases are renewed as for `create`.
    pub async fn create_response(&self, spec: impl Into<SandboxSpec>) -> Result<CreateResponse> {
        let spec = spec.into();
        let created = self.api.create_sandbox(&spec).await?;
        if let Some(lease) = spec.lease_seconds {
            self.leases.track(&created.id, lease);
        }
        Ok(created)
    }

    /// [`Sandboxes::create`], in a [`SandboxGuard`] that terminates the sandbox when dropped.
    pub async fn create_scoped(&self, spec: impl Into<SandboxSpec>) -> Result<SandboxGuard> {
        Ok(self.create(spec).await?.into_guard())
    }

    /// The live sandbox named `name`, or a new one created from `spec` with that name.
    /// Concurrent callers get the same sandbox: a create that loses the race for the name
    /// (409) looks the name up again. A name whose sandbox is already terminal is created
    /// again where the server allows it (the local server never reuses names: its 409 is
    /// returned).
    pub async fn get_or_create(&self, name: &str, spec: impl Into<SandboxSpec>) -> Result<Sandbox> {
        if let Some(live) = self.find_live(name).await? {
            return Ok(live);
        }
        match self.create(spec.into().name(name)).await {
            Ok(created) => Ok(created),
            Err(err) if err.status() == Some(409) => match self.find_live(name).await? {
                Some(live) => Ok(live),
                None => Err(err),
            },
            Err(err) => Err(err),
        }
    }

    /// The sandbox named `name` when it exists and is not terminal.
    async fn find_live(&self, name: &str) -> Result<Option<Sandbox>> {
        match self.get(name).await {
            Ok(sandbox) if sandbox.phase().is_some_and(|p| !p.is_terminal()) => Ok(Some(sandbox)),
            Ok(_) => Ok(None),
            Err(err) if err.is_not_found() => Ok(None),
            Err(err) => Err(err),
        }
    }

    /// The sandbox named `name`: a lookup, then a status read.
    pub async fn get(&self, name: &str) -> Result<Sandbox> {
        let id = self.api.lookup_sandbox(name).await?.id;
        self.get_by_id(&id).await
    }

    /// The sandbox with id `id`, with its status.
    pub async fn get_by_id(&self, id: &str) -> Result<Sandbox> {
        let status = self.api.get_sandbox(id).await?;
        Ok(self.wrap(status.id.clone(), Some(status)))
    }

    /// One page of sandboxes matching `params`, each with its status. Pagination details and
    /// filter values are dropped; use [`SandboxesApi::list_sandboxes`] for them.
    pub async fn list(&self, params: impl Into<ListSandboxesParams>) -> Result<Vec<Sandbox>> {
        let page = self.api.list_sandboxes(&params.into()).await?;
        Ok(page
            .sandboxes
            .into_iter()
            .map(|status| self.wrap(status.id.clone(), Some(status)))
            .collect())
    }

    /// Every sandbox matching `params`, following pages until the last (the page in `params` is
    /// the first one read).
    pub async fn list_all(&self, params: impl Into<ListSandboxesParams>) -> Result<Vec<Sandbox>> {
        let mut params = params.into();
        let mut page_number = params.page.unwrap_or(1);
        let mut all = Vec::new();
        loop {
            params.page = Some(page_number);
            let page = self.api.list_sandboxes(&params).await?;
            let more = page.pagination.has_next_page && !page.sandboxes.is_empty();
            all.extend(
                page.sandboxes.into_iter().map(|status| self.wrap(status.id.clone(), Some(status))),
            );
            if !more {
                return Ok(all);
            }
            page_number += 1;
        }
    }

    /// A handle for the sandbox `id` without any request (no cached status).
    #[must_use]
    pub fn handle(&self, id: impl Into<String>) -> Sandbox {
        self.wrap(id.into(), None)
    }

    /// The low-level sandbox endpoints.
    #[must_use]
    pub fn raw(&self) -> &SandboxesApi {
        &self.api
    }
}

/// A sandbox: its id, the last status read, and what can be done with it. Clones share the
/// cached status.
#[derive(Debug, Clone)]
pub struct Sandbox {
    id: String,
    api: SandboxesApi,
    status: Arc<Mutex<Option<StatusResponse>>>,
    /// The client's lease keeper, to stop renewing on terminate (weak: a handle does not keep
    /// the renewals of a dropped client going).
    leases: Weak<LeaseKeeper>,
}

/// Options of [`Sandbox::logs`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogsQuery {
    /// Only lines after this time (RFC 3339, or a duration such as `10m` on the local server).
    pub since: Option<String>,
    /// At most this many lines.
    pub limit: Option<i64>,
}

impl LogsQuery {
    /// Every line the server returns by default.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Only lines after `since`.
    #[must_use]
    pub fn since(mut self, since: impl Into<String>) -> Self {
        self.since = Some(since.into());
        self
    }

    /// At most `limit` lines.
    #[must_use]
    pub fn limit(mut self, limit: i64) -> Self {
        self.limit = Some(limit);
        self
    }
}

impl Sandbox {
    fn new(api: SandboxesApi, id: String, status: Option<StatusResponse>) -> Self {
        Self { id, api, status: Arc::new(Mutex::new(status)), leases: Weak::new() }
    }

    fn with_leases(mut self, leases: Weak<LeaseKeeper>) -> Self {
        self.leases = leases;
        self
    }

    fn forget_lease(&self) {
        if let Some(leases) = self.leases.upgrade() {
            leases.forget(&self.id);
        }
    }

    fn cached<T>(&self, read: impl FnOnce(&StatusResponse) -> Option<T>) -> Option<T> {
        self.status.lock().unwrap_or_else(PoisonError::into_inner).as_ref().and_then(read)
    }

    /// The sandbox id.
    #[must_use]
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The phase of the cached status; `None` until a status was read.
    #[must_use]
    pub fn phase(&self) -> Option<StatusResponsePhase> {
        self.cached(|s| Some(s.phase.clone()))
    }

    /// The tags of the cached status; `None` until a status was read or when none are set.
    #[must_use]
    pub fn tags(&self) -> Option<IndexMap<String, String>> {
        self.cached(|s| s.tags.clone())
    }

    /// The cached status, if one was read.
    #[must_use]
    pub fn status(&self) -> Option<StatusResponse> {
        self.cached(|s| Some(s.clone()))
    }

    /// Reads the status (`GET /v1/sandbox/{id}`), caches it and returns it.
    pub async fn refresh(&self) -> Result<StatusResponse> {
        let status = self.api.get_sandbox(&self.id).await?;
        *self.status.lock().unwrap_or_else(PoisonError::into_inner) = Some(status.clone());
        Ok(status)
    }

    /// Runs `command` (an argv; no shell) and waits for it, however long it takes. Never
    /// retried. A non-zero exit code is a normal result.
    pub async fn exec<I, S>(&self, command: I) -> Result<ExecResponse>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.api.exec_sandbox(&self.id, &ExecRequest::new(command), None).await
    }

    /// Runs `command` with [`ExecOptions`] (a deadline, working directory, environment,
    /// standard input; extensions of the local server). With a deadline, the server kills the
    /// command's process tree and answers `timed_out: Some(true)` with exit code 124 and the
    /// output so far; the HTTP request waits the deadline plus [`crate::EXEC_DEADLINE_MARGIN`],
    /// so against a server without the extension it fails with a timeout error instead (the
    /// command may keep running there). Never retried.
    pub async fn exec_with<I, S>(&self, command: I, options: ExecOptions) -> Result<ExecResponse>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let (request, limit) = options.request(command.into_iter().map(Into::into).collect())?;
        self.api.exec_sandbox(&self.id, &request, limit).await
    }

    /// Starts a process (an extension of the local server): it gets its id at once and
    /// outlives this call and this client; see [`Process`]. Against a server without the
    /// extension this fails at once with [`crate::ErrorKind::Unsupported`]. Never retried.
    pub async fn start(&self, spec: impl Into<ProcessSpec>) -> Result<Process> {
        let request = spec.into().request()?;
        self.api.require_processes().await?;
        let status = self.api.start_process(&self.id, &request).await?;
        Ok(Process::new(self.api.clone(), status))
    }

    /// The process `exec_id` of this sandbox, with its status (started by any client, before
    /// or after a server restart).
    pub async fn process(&self, exec_id: &str) -> Result<Process> {
        self.api.require_processes().await?;
        let status = self.api.get_process(&self.id, exec_id, None).await?;
        Ok(Process::new(self.api.clone(), status))
    }

    /// The sandbox's processes, running and ended, newest first, each with its status.
    pub async fn processes(&self) -> Result<Vec<Process>> {
        self.api.require_processes().await?;
        let list = self.api.list_processes(&self.id).await?;
        Ok(list.processes.into_iter().map(|s| Process::new(self.api.clone(), s)).collect())
    }

    /// The sandbox's log lines: the workload's output and every exec's (oldest first on the
    /// local server).
    pub async fn logs(&self, query: LogsQuery) -> Result<Vec<LogLine>> {
        let response =
            self.api.get_sandbox_logs(&self.id, query.limit, query.since.as_deref()).await?;
        Ok(response.logs)
    }

    /// Terminates the sandbox (`DELETE /v1/sandbox/{id}`); its record and logs stay readable.
    pub async fn terminate(&self) -> Result<()> {
        self.api.delete_sandbox(&self.id, None).await?;
        self.forget_lease();
        Ok(())
    }

    /// Terminates the sandbox, telling the server who asked (`termination_reason`).
    pub async fn terminate_from(&self, source: SandboxesSource) -> Result<()> {
        self.api.delete_sandbox(&self.id, Some(&source)).await?;
        self.forget_lease();
        Ok(())
    }

    /// Renews the sandbox's lease now (`POST /v1/sandbox/{id}/lease`, an extension of the
    /// local Porter server). The client that created a leased sandbox does this by itself.
    pub async fn renew_lease(&self) -> Result<()> {
        self.api.renew_sandbox_lease(&self.id).await
    }

    /// The low-level sandbox endpoints.
    #[must_use]
    pub fn raw(&self) -> &SandboxesApi {
        &self.api
    }
}
