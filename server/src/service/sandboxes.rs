//! Sandbox operations behind the routes: validation, create, read, list, logs, terminate, exec.

use std::path::Path as FsPath;

use porter_sandbox::types::{
    CountPoint, CountResponse, CreateResponse, ExecRequest, ExecResponse, FilterValuesResponse,
    FilterValuesResponsePhases, ListResponse, LogLineLevel, LogsResponse, LookupResult, Pagination,
    SandboxResourcesSpec, SandboxSpec, StatusResponse, StatusResponsePhase,
    StatusResponseTerminationReason,
};

use super::error::{ServiceError, ServiceResult};
use super::{
    DEFAULT_LOG_LIMIT, MAX_LOG_LIMIT, PAGE_SIZE, SandboxQuery, Service, names, quantity,
    store_error,
};
use crate::{
    images::ImageStore,
    runtime::EXEC_OUTPUT_LIMIT,
    store::{NewLogLine, SandboxRow, StoreError},
    time::{format_micros, now_micros},
};

impl Service {
    /// `POST /v1/sandbox/run`: validates, records the sandbox as queued and launches it in the
    /// background.
    pub async fn create_sandbox(
        self: &std::sync::Arc<Self>,
        mut spec: SandboxSpec,
    ) -> ServiceResult<CreateResponse> {
        // The SDKs send `"image": ""` with a snapshot, and an empty snapshot id means none.
        spec.snapshot_id = spec.snapshot_id.take().filter(|s| !s.is_empty());
        self.validate_spec(&spec)?;
        let snapshot = match &spec.snapshot_id {
            Some(snapshot_id) => Some(self.snapshot_for_launch(snapshot_id)?),
            None => None,
        };
        // The stored spec carries the limits actually applied (the server's default size
        // fills what the request left out), so they stay what they were after a restart.
        spec.resources = Some(self.effective_resources(spec.resources.as_ref())?);
        let id = names::new_id("sb");
        let name = spec.name.clone().unwrap_or_else(|| id.clone());
        let mut row = SandboxRow::new_queued(id.clone(), name.clone(), spec.clone(), now_micros());
        if let Some(snapshot) = snapshot {
            // A sandbox from a snapshot runs the snapshot's base image (and its layers).
            row.image = snapshot.image;
        }
        let volume_ids: Vec<&str> =
            spec.volume_mounts.iter().flatten().map(|(_, id)| id.as_str()).collect();
        match self.store.insert_sandbox_with_volumes(&row, &volume_ids) {
            Ok(()) => {}
            Err(StoreError::NameTaken(name)) => {
                return Err(ServiceError::conflict(format!(
                    "sandbox name {name:?} is already used (sandbox names are never reused, even \
                     after termination): choose another name"
                )));
            }
            // Checked above, deleted since (a race with its deletion).
            Err(StoreError::NotFound) => {
                return Err(ServiceError::invalid(format!(
                    "a volume in volume_mounts ({}) was deleted while the sandbox was being \
                     created: create the volume again, or remove it from volume_mounts",
                    volume_ids.join(", ")
                )));
            }
            Err(err) => return Err(store_error(err)),
        }
        super::lifecycle::spawn_launch(self.clone(), id.clone());
        Ok(CreateResponse { id, name, volume_mounts: spec.volume_mounts })
    }

    fn validate_spec(&self, spec: &SandboxSpec) -> ServiceResult<()> {
        super::validate::spec(spec)?;
        match (spec.image.trim().is_empty(), &spec.snapshot_id) {
            (false, Some(_)) => {
                return Err(ServiceError::invalid(
                    "image and snapshot_id are both set: a sandbox starts either from an image \
                     or from a snapshot (which brings its own base image); leave image empty",
                ));
            }
            (true, None) => {
                return Err(ServiceError::invalid(
                    "image is required (or snapshot_id): use \"host\" (the host's system tools, \
                     e.g. python3), a registry image such as \"python:3.12-slim\", \
                     \"oci-layout:/path[:tag]\" or \"docker-archive:/path.tar\"",
                ));
            }
            (false, None) => {
                ImageStore::check_reference(&spec.image).map_err(ServiceError::invalid)?;
            }
            (true, Some(_)) => {}
        }
        if let Some(name) = &spec.name {
            names::validate_name("sandbox", name)?;
        }
        super::networking::validate(spec)?;
        if let Some(why) = self.runtime.refuse(spec) {
            return Err(ServiceError::invalid(why));
        }
        if let Some(groups) = spec.env_groups.as_ref().filter(|g| !g.is_empty()) {
            return Err(ServiceError::invalid(format!(
                "env group {:?} does not exist: this local server has no environment groups; \
                 pass the variables in env instead",
                groups[0]
            )));
        }
        if let Some(ttl) = spec.ttl_seconds {
            if ttl <= 0 {
                return Err(ServiceError::invalid(format!(
                    "ttl_seconds must be a positive number of seconds, not {ttl}; omit it for no limit"
                )));
            }
        }
        if let Some(lease) = spec.lease_seconds.filter(|lease| *lease <= 0) {
            return Err(ServiceError::invalid(format!(
                "lease_seconds must be a positive number of seconds, not {lease}; omit it for no lease"
            )));
        }
        if spec.command.as_ref().is_some_and(Vec::is_empty) {
            return Err(ServiceError::invalid(
                "command is empty: give the program to run, e.g. [\"python3\", \"app.py\"], or omit it",
            ));
        }
        for (key, value) in spec.env.iter().flatten() {
            if key.is_empty() || key.contains('=') || key.contains('\0') || value.contains('\0') {
                return Err(ServiceError::invalid(format!(
                    "environment variable {key:?} is invalid: names must be non-empty without '=' \
                     or NUL, values without NUL"
                )));
            }
        }
        for (path, volume_id) in spec.volume_mounts.iter().flatten() {
            self.validate_mount(path, volume_id)?;
        }
        Ok(())
    }

    /// The limits a sandbox gets: what it asked for, the server's default size for the rest.
    /// Both come back normalized (`"1500m"`, `"512Mi"`).
    fn effective_resources(
        &self,
        asked: Option<&SandboxResourcesSpec>,
    ) -> ServiceResult<SandboxResourcesSpec> {
        let cpu = match asked.and_then(|r| r.cpu.as_deref()) {
            Some(text) => quantity::cpu_millis(text)?,
            None => self.options.default_cpu_millis,
        };
        let memory = match asked.and_then(|r| r.memory.as_deref()) {
            Some(text) => quantity::memory_bytes(text)?,
            None => self.options.default_memory_bytes,
        };
        Ok(SandboxResourcesSpec {
            cpu: Some(quantity::format_cpu(cpu)),
            memory: Some(quantity::format_memory(memory)),
        })
    }

    fn validate_mount(&self, path: &str, volume_id: &str) -> ServiceResult<()> {
        let clean = FsPath::new(path);
        let bad = !path.starts_with('/')
            || path == "/"
            || path.contains('\0')
            || clean.components().any(|c| matches!(c, std::path::Component::ParentDir))
            || ["/proc", "/sys", "/dev", "/usr"]
                .iter()
                .any(|p| path == *p || path.starts_with(&format!("{p}/")));
        if bad {
            return Err(ServiceError::invalid(format!(
                "volume mount path {path:?} is invalid: use an absolute path such as /data, not \
                 /, a system directory (/proc, /sys, /dev, /usr) or one with '..'"
            )));
        }
        let row = self.store.get_volume(volume_id).map_err(store_error)?.ok_or_else(|| {
            ServiceError::invalid(format!(
                "volume {volume_id:?} (mounted at {path}) does not exist: volume_mounts maps a \
                 mount path to a volume id; create the volume first"
            ))
        })?;
        if row.r#type != porter_sandbox::types::VolumeType::Disk {
            return Err(ServiceError::unsupported_option("mounting object volumes"));
        }
        Ok(())
    }

    /// `GET /v1/sandbox/lookup?name=`.
    pub fn lookup_sandbox(&self, name: &str) -> ServiceResult<LookupResult> {
        let id = self.store.sandbox_id_by_name(name).map_err(store_error)?;
        id.map(|id| LookupResult { id })
            .ok_or_else(|| ServiceError::not_found(format!("no sandbox is named {name:?}")))
    }

    pub(crate) fn sandbox_row(&self, id: &str) -> ServiceResult<SandboxRow> {
        self.store
            .get_sandbox(id)
            .map_err(store_error)?
            .ok_or_else(|| ServiceError::not_found(format!("sandbox {id} does not exist")))
    }

    /// `GET /v1/sandbox/{id}`.
    pub fn get_sandbox(&self, id: &str) -> ServiceResult<StatusResponse> {
        self.store
            .sandbox_status(id)
            .map_err(store_error)?
            .ok_or_else(|| ServiceError::not_found(format!("sandbox {id} does not exist")))
    }

    /// `GET /v1/sandbox/{id}` as the JSON body of the answer (the status encoded once, when
    /// it was read from the store).
    pub fn get_sandbox_json(&self, id: &str) -> ServiceResult<bytes::Bytes> {
        self.store
            .sandbox_status_json(id)
            .map_err(store_error)?
            .ok_or_else(|| ServiceError::not_found(format!("sandbox {id} does not exist")))
    }

    /// `GET /v1/sandbox`: newest first, [`PAGE_SIZE`] per page.
    pub fn list_sandboxes(
        &self,
        query: &SandboxQuery,
        page: i64,
        include_filter_values: bool,
    ) -> ServiceResult<ListResponse> {
        let (rows, total) =
            self.store.list_sandboxes(query, page, PAGE_SIZE).map_err(store_error)?;
        let total_pages = ((total + PAGE_SIZE - 1) / PAGE_SIZE).max(1);
        let filter_values = if include_filter_values {
            Some(FilterValuesResponse {
                tags: self.store.distinct_tags().map_err(store_error)?,
                images: self.store.distinct_images().map_err(store_error)?,
                phases: FilterValuesResponsePhases::KNOWN.to_vec(),
            })
        } else {
            None
        };
        Ok(ListResponse {
            sandboxes: rows.iter().map(SandboxRow::to_status).collect(),
            pagination: Pagination {
                current_page: page,
                total_pages,
                has_next_page: page * PAGE_SIZE < total,
            },
            filter_values,
        })
    }

    /// `GET /v1/sandbox/counts`: gap-free buckets over the window (default: the last 24 hours),
    /// about 60 of them, on round boundaries.
    pub fn sandbox_counts(&self, query: &SandboxQuery) -> ServiceResult<CountResponse> {
        const MINUTE: i64 = 60_000_000;
        let end = query.end_time.unwrap_or_else(now_micros);
        let start = query.start_time.unwrap_or(end - 24 * 60 * MINUTE);
        if start >= end {
            return Err(ServiceError::invalid("start_time must be before end_time"));
        }
        let span = end - start;
        let granularity = [1, 5, 15, 30, 60, 360, 720, 1440, 10080]
            .iter()
            .map(|m| m * MINUTE)
            .find(|g| span / g <= 60)
            .unwrap_or(span / 60 + 1);
        let aligned = start - start.rem_euclid(granularity);
        let buckets = self.store.counts(query, aligned, end, granularity).map_err(store_error)?;
        Ok(CountResponse {
            points: buckets
                .into_iter()
                .map(|(at, count)| CountPoint { timestamp: format_micros(at), count })
                .collect(),
            granularity_ms: granularity / 1000,
        })
    }

    /// `GET /v1/sandbox/{id}/logs`: the most recent `limit` lines (after `since`), oldest first.
    pub fn sandbox_logs(
        &self,
        id: &str,
        limit: Option<i64>,
        since: Option<i64>,
    ) -> ServiceResult<LogsResponse> {
        self.sandbox_row(id)?;
        let limit = limit.unwrap_or(DEFAULT_LOG_LIMIT).min(MAX_LOG_LIMIT);
        let logs = self.store.logs(id, since, limit).map_err(store_error)?;
        Ok(LogsResponse { sandbox_id: id.to_owned(), logs })
    }

    /// `DELETE /v1/sandbox/{id}`: idempotent; `source` becomes the termination reason.
    pub async fn terminate_sandbox(&self, id: &str, source: Option<&str>) -> ServiceResult<()> {
        let row = self.sandbox_row(id)?;
        if row.phase.is_terminal() {
            return Ok(());
        }
        let reason = StatusResponseTerminationReason::from_wire(source.unwrap_or("sdk"));
        // Stopped first, recorded second: success is only answered once both are done.
        self.teardown(id).await.map_err(|err| {
            ServiceError::internal(format!(
                "cannot stop sandbox {id}: {err}; it is still {}: retry the request",
                row.phase
            ))
        })?;
        self.settle(id, &StatusResponsePhase::Terminated, None, reason).map_err(|err| {
            ServiceError::internal(format!(
                "sandbox {id} was stopped but its termination could not be recorded: {err}; \
                 retry the request"
            ))
        })?;
        Ok(())
    }

    /// `POST /v1/sandbox/{id}/exec`: runs the command in the running sandbox; its output is also
    /// logged under the exec's id. Dropping the future (client gone) kills the command.
    pub async fn exec(&self, id: &str, request: ExecRequest) -> ServiceResult<ExecResponse> {
        let row = self.sandbox_row(id)?;
        if row.phase != StatusResponsePhase::Running {
            return Err(ServiceError::conflict(format!(
                "sandbox {id} {}: exec needs a running sandbox{}",
                row.phase.as_state(),
                if row.phase.is_terminal() { "" } else { "; wait until its phase is running" }
            )));
        }
        super::exec_options::check_command(&request.command)?;
        let exec_id = names::new_id("ex");
        let env: Vec<(String, String)> =
            row.spec.env.iter().flatten().map(|(k, v)| (k.clone(), v.clone())).collect();
        let deadline = request.timeout_seconds;
        let spec = super::exec_options::exec_spec(request, env)?;
        let oom_before = self.runtime.usage(id).map_or(0, |u| u.oom_kills);
        let id_owned = id.to_owned();
        let asked = now_micros();
        let output = self.runtime.exec_with(id, spec).await;
        // Ended while the command ran (terminated, TTL, its workload exited): what failed is the
        // sandbox, not the command — the engine's complaints about a vanishing container are no
        // command's output.
        let ended = self
            .sandbox_row(id)
            .ok()
            .filter(|row| row.phase.is_terminal() && row.finished_at.is_some_and(|at| at >= asked));
        if let Some(row) = ended {
            if output.as_ref().is_err() || output.as_ref().is_ok_and(|o| o.exit_code != 0) {
                return Err(ServiceError::conflict(format!(
                    "sandbox {id} {} while the command ran: its output is lost; run it in a \
                     running sandbox",
                    row.phase.as_state()
                )));
            }
        }
        let output = output
            .map_err(|e| ServiceError::internal(format!("exec in sandbox {id} failed: {e}")))?;
        self.explain_kill(id, output.exit_code, Some((&exec_id, oom_before)));
        let crate::runtime::ExecOutput { mut stdout, mut stderr, exit_code, timed_out, .. } =
            output;
        // Capped by encoded size: a NUL byte takes six bytes of JSON.
        let stdout_dropped = output.stdout_dropped + cap_json(&mut stdout, EXEC_OUTPUT_LIMIT);
        let stderr_dropped = output.stderr_dropped + cap_json(&mut stderr, EXEC_OUTPUT_LIMIT);
        let mut lines = exec_log_lines(
            &exec_id,
            [(&stdout, stdout_dropped, "stdout"), (&stderr, stderr_dropped, "stderr")],
            self.store.log_retention(),
        );
        if timed_out {
            lines.push(NewLogLine {
                ts: now_micros(),
                level: LogLineLevel::Warning,
                line: format!(
                    "[porter-sandbox: exec {exec_id}: killed at its deadline of {} s (exit code \
                     124)]",
                    deadline.unwrap_or_default()
                ),
                exec_id: exec_id.clone(),
            });
        }
        let store = self.store.clone();
        let logged = tokio::task::spawn_blocking(move || store.append_logs(&id_owned, &lines));
        match logged.await {
            Ok(Ok(())) => {}
            Ok(Err(err)) => tracing::warn!("cannot log the output of {exec_id}: {err}"),
            Err(err) => tracing::warn!("cannot log the output of {exec_id}: {err}"),
        }
        let truncated = stdout_dropped > 0 || stderr_dropped > 0;
        Ok(ExecResponse {
            stdout,
            stderr,
            exit_code: i64::from(exit_code),
            exec_id: Some(exec_id),
            truncated: truncated.then_some(true),
            timed_out: timed_out.then_some(true),
        })
    }
}

/// Cuts `text` (on a character boundary) so that it encodes to at most `max` bytes of JSON;
/// returns the bytes removed.
fn cap_json(text: &mut String, max: usize) -> u64 {
    let mut encoded = 0;
    for (at, c) in text.char_indices() {
        encoded += crate::store::logs::json_len(c.encode_utf8(&mut [0; 4]));
        if encoded > max {
            let removed = (text.len() - at) as u64;
            text.truncate(at);
            return removed;
        }
    }
    0
}

/// The log lines of an exec's output: per stream, the newest lines costing at most the
/// output limit in the store (a line costs its bytes plus a row overhead, so a flood of empty
/// lines is bounded too), after a marker when earlier ones were left out, and a marker when
/// the stream was cut at the output limit.
fn exec_log_lines(
    exec_id: &str,
    streams: [(&String, u64, &str); 2],
    retention: u64,
) -> Vec<NewLogLine> {
    let now = now_micros();
    let line = |level: LogLineLevel, text: String| NewLogLine {
        ts: now,
        level,
        line: text,
        exec_id: exec_id.to_owned(),
    };
    let limit = (EXEC_OUTPUT_LIMIT as u64).min(retention / 2);
    let mut kept: Vec<NewLogLine> = Vec::new();
    for (index, (text, dropped, name)) in streams.iter().enumerate() {
        let level = if index == 0 { LogLineLevel::Info } else { LogLineLevel::Error };
        let mut budget = limit;
        let (mut skipped_lines, mut skipped_bytes) = (0u64, 0u64);
        let mut newest: Vec<&str> = Vec::new();
        for text in text.lines().rev() {
            let cost = text.len() as u64 + crate::store::LOG_ROW_OVERHEAD;
            if cost > budget {
                skipped_lines += 1;
                skipped_bytes += text.len() as u64;
                budget = 0;
            } else {
                budget -= cost;
                newest.push(text);
            }
        }
        if skipped_lines > 0 {
            kept.push(line(
                LogLineLevel::Warning,
                format!(
                    "[porter-sandbox: exec {exec_id}: {skipped_lines} earlier {name} lines \
                     ({skipped_bytes} bytes) not logged: an exec logs at most {limit} bytes per \
                     stream]"
                ),
            ));
        }
        kept.extend(newest.iter().rev().map(|text| line(level.clone(), (*text).to_owned())));
        if *dropped > 0 {
            kept.push(line(
                LogLineLevel::Warning,
                format!(
                    "[porter-sandbox: exec {exec_id}: {dropped} bytes of {name} dropped beyond \
                     the limit of {EXEC_OUTPUT_LIMIT} bytes per stream]"
                ),
            ));
        }
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_cap_counts_escapes() {
        let mut nuls = "\0".repeat(1000);
        assert_eq!(cap_json(&mut nuls, 600), 900);
        assert_eq!(nuls.len(), 100);
        let mut text = "aé".repeat(10);
        assert_eq!(cap_json(&mut text, 3), 27);
        assert_eq!(text, "aé");
        let mut short = "abc".to_owned();
        assert_eq!(cap_json(&mut short, 3), 0);
    }

    #[test]
    fn exec_logs_keep_the_newest_lines_of_each_stream() {
        let out = "\n".repeat(1 << 20);
        let err = "boom\n".to_owned();
        let lines = exec_log_lines("ex-1", [(&out, 5, "stdout"), (&err, 0, "stderr")], 16 << 20);
        let per_row = crate::store::LOG_ROW_OVERHEAD as usize;
        assert!(lines.len() <= EXEC_OUTPUT_LIMIT / per_row + 3, "{} lines", lines.len());
        assert!(lines[0].line.contains("earlier stdout lines"), "{}", lines[0].line);
        assert!(lines.iter().any(|l| l.line.contains("5 bytes of stdout dropped")));
        assert_eq!(lines.last().map(|l| l.line.as_str()), Some("boom"));
        assert!(lines.iter().all(|l| l.exec_id == "ex-1"));
    }
}
