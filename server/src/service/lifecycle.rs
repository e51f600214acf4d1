//! The lifecycle state machine: launch (queued → creating → running), workload exit
//! (succeeded/failed), termination, TTL expiry, and recovery after a restart.

use std::{collections::HashMap, sync::Arc};

use futures_util::StreamExt;
use porter_sandbox::types::{LogLineLevel, StatusResponsePhase, StatusResponseTerminationReason};
use tokio::sync::mpsc;

use super::{Service, ServiceError, ServiceResult};
use crate::{
    images::ResolvedImage,
    runtime::{Adoption, LaunchSpec, Limits, OutputStream, RuntimeEvent},
    store::{NewLogLine, PhaseUpdate, SandboxRow},
    time::now_micros,
};

/// Processes per sandbox: enough for real work, few enough that a fork bomb stays contained.
const PIDS_LIMIT: u64 = 1024;
/// Uid and gid a workload runs as when its image names no user.
const DEFAULT_USER: (u32, u32) = crate::runtime::DEFAULT_SANDBOX_USER;

/// How often sandboxes found on the host are checked against the store (besides at start).
const RECONCILE_EVERY: std::time::Duration = std::time::Duration::from_secs(60);
/// How often a server sharing its runtime with others adopts their new sandboxes.
/// Sandboxes whose TTL or lease ran out that are ended at the same time.
pub(super) const REAP_CONCURRENCY: usize = 32;

const SHARED_RECONCILE_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

/// Launches sandbox `id` in the background.
pub(super) fn spawn_launch(service: Arc<Service>, id: String) {
    tokio::spawn(async move {
        if let Err(reason) = service.launch(&id).await {
            let line = format!("launch failed: {reason}");
            let logged = service.log_system(&id, LogLineLevel::Error, &line);
            service
                .finish(
                    &id,
                    &StatusResponsePhase::Failed,
                    None,
                    StatusResponseTerminationReason::LaunchFailed,
                )
                .await;
            // The store failed the first time (a full disk): `finish` waited for it to recover.
            if !logged {
                service.log_system(&id, LogLineLevel::Error, &line);
            }
        }
    });
}

/// Events the event loop takes from the channel per store round.
const EVENTS_PER_ROUND: usize = 1000;

/// Consumes the runtime's events: output lines become log lines (in batches, written off the
/// async workers), exits settle the sandbox's phase. While a batch is being written the channel
/// fills up and the tailers wait: that is the back-pressure bounding memory.
pub(super) fn spawn_event_loop(service: Arc<Service>, mut events: mpsc::Receiver<RuntimeEvent>) {
    tokio::spawn(async move {
        let mut batch = Vec::with_capacity(EVENTS_PER_ROUND);
        while events.recv_many(&mut batch, EVENTS_PER_ROUND).await > 0 {
            let mut lines: HashMap<String, Vec<NewLogLine>> = HashMap::new();
            let mut exits = Vec::new();
            for event in batch.drain(..) {
                match event {
                    RuntimeEvent::Line { sandbox_id, stream, line, at } => {
                        let level = match stream {
                            OutputStream::Stdout => LogLineLevel::Info,
                            OutputStream::Stderr => LogLineLevel::Error,
                        };
                        lines.entry(sandbox_id).or_default().push(NewLogLine {
                            ts: at,
                            level,
                            line,
                            exec_id: String::new(),
                        });
                    }
                    RuntimeEvent::Exited { sandbox_id, exit_code } => {
                        exits.push((sandbox_id, Ok(exit_code)));
                    }
                    RuntimeEvent::Terminated { sandbox_id, reason } => {
                        exits.push((sandbox_id, Err(reason)));
                    }
                }
            }
            if !lines.is_empty() {
                let store = service.store.clone();
                let written = tokio::task::spawn_blocking(move || {
                    for (id, batch) in lines {
                        if let Err(err) = store.append_logs(&id, &batch) {
                            tracing::warn!("cannot store log lines of {id}: {err}");
                        }
                    }
                });
                if let Err(err) = written.await {
                    tracing::error!("storing log lines: {err}");
                }
            }
            for (id, code) in exits {
                let code = match code {
                    Ok(code) => code,
                    Err(reason) => {
                        // Another server of the cluster terminated it, for this reason.
                        let reason = StatusResponseTerminationReason::from_wire(&reason);
                        let phase = StatusResponsePhase::Terminated;
                        service.finish(&id, &phase, None, reason).await;
                        continue;
                    }
                };
                service.explain_kill(&id, code, None);
                let phase = if code == 0 {
                    StatusResponsePhase::Succeeded
                } else {
                    StatusResponsePhase::Failed
                };
                service
                    .finish(
                        &id,
                        &phase,
                        Some(code),
                        StatusResponseTerminationReason::WorkloadExited,
                    )
                    .await;
            }
        }
    });
}

/// Terminates sandboxes whose `ttl_seconds` elapsed (counted from running start, or from
/// creation while not yet running) and those whose lease ran out (`leases.rs`), and every
/// [`RECONCILE_EVERY`] ends the sandboxes found on the host that the store does not track.
pub(super) fn spawn_reaper(service: Arc<Service>) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(service.options.reaper_interval);
        let mut last_reconcile = tokio::time::Instant::now();
        loop {
            tick.tick().await;
            // Servers sharing a cluster adopt each other's new sandboxes within a second.
            let every =
                if service.runtime.shared() { SHARED_RECONCILE_EVERY } else { RECONCILE_EVERY };
            if last_reconcile.elapsed() >= every {
                last_reconcile = tokio::time::Instant::now();
                service.reconcile().await;
            }
            let live = match service.store.live_sandboxes() {
                Ok(live) => live,
                Err(err) => {
                    tracing::warn!("ttl reaper: {err}");
                    continue;
                }
            };
            if !service.runtime.leads() {
                continue; // another server of the cluster reaps
            }
            let now = now_micros();
            service.expire_leases(&live).await;
            let mut expired = Vec::new();
            for row in live {
                let Some(ttl) = row.spec.ttl_seconds else { continue };
                let from = row.started_at.unwrap_or(row.created_at);
                if now >= from.saturating_add(ttl.saturating_mul(1_000_000)) {
                    expired.push(row.id);
                }
            }
            service.end_all(&expired, StatusResponseTerminationReason::TtlExpired).await;
        }
    });
}

impl Service {
    /// Terminates `ids` for `reason` together, not one after the other (each teardown waits
    /// for its sandbox to end): a batch of expired TTLs ends on time.
    pub(super) async fn end_all(&self, ids: &[String], reason: StatusResponseTerminationReason) {
        for chunk in ids.chunks(REAP_CONCURRENCY) {
            let mut ends = futures_util::stream::FuturesUnordered::new();
            for id in chunk {
                ends.push(self.finish(id, &StatusResponsePhase::Terminated, None, reason.clone()));
            }
            while ends.next().await.is_some() {}
        }
    }

    /// queued → creating → running. An error's message is the launch-failure reason.
    async fn launch(&self, id: &str) -> ServiceResult<()> {
        let row = self.sandbox_row(id)?;
        let creating =
            self.store.set_phase(id, &StatusResponsePhase::Creating, &PhaseUpdate::default());
        let creating = creating.map_err(|e| {
            ServiceError::internal(format!("cannot record the sandbox as creating: {e}"))
        })?;
        if !creating {
            return Ok(()); // terminated while queued
        }
        let spec = if self.runtime.pulls_images() {
            self.workload_spec(&row)?
        } else {
            self.resolved_spec(id, &row).await?
        };
        if self.sandbox_row(id)?.phase.is_terminal() {
            return Ok(());
        }
        let started = self.runtime.start(spec, self.events.clone()).await?;
        if let Err(err) = self.store.set_runtime_state(id, Some(&started.state.to_string())) {
            // Never leave a sandbox running that a restarted server could not find again.
            if let Err(kill) = super::teardown::kill_retrying(self.runtime.as_ref(), id).await {
                tracing::error!("cleanup of {id}: {kill}");
            }
            return Err(ServiceError::internal(format!(
                "cannot record the started sandbox: {err}"
            )));
        }
        if let Some(address) = started.internal_address {
            // No public hostname: there is no ingress locally (see `networking.rs`).
            if let Err(err) = self.store.set_endpoint(id, "", &address.to_string()) {
                tracing::warn!("cannot record the address of {id}: {err}");
            }
        }
        let update = PhaseUpdate { started_at: Some(now_micros()), ..PhaseUpdate::default() };
        let running = self.store.set_phase(id, &StatusResponsePhase::Running, &update);
        if !matches!(running, Ok(true)) {
            // Terminated (or exited) while starting, or not recordable: nothing keeps running.
            if let Err(err) = super::teardown::kill_retrying(self.runtime.as_ref(), id).await {
                tracing::error!("cleanup of {id}: {err}");
            }
            running.map_err(|e| {
                ServiceError::internal(format!("cannot record the sandbox as running: {e}"))
            })?;
        }
        Ok(())
    }

    /// The launch of a sandbox whose image this server resolves (pulls and unpacks).
    async fn resolved_spec(&self, id: &str, row: &SandboxRow) -> ServiceResult<LaunchSpec> {
        // A registry pull happens here, in `creating`, with its progress in the sandbox's log.
        let notify = |notice: crate::images::Notice| {
            let level = if notice.warning { LogLineLevel::Warning } else { LogLineLevel::Info };
            self.log_system(id, level, &notice.line);
        };
        let image = self.images.resolve_for(&row.image, Some(id), &notify).await?;
        if let Some(substitute) = &image.substitute {
            // The status must say so: a sandbox never silently runs another image.
            self.store.set_runs_image(id, substitute).map_err(|e| {
                ServiceError::internal(format!("cannot record the image the sandbox runs: {e}"))
            })?;
        }
        let mut spec = self.launch_spec(row, image)?;
        if let Some(snapshot_id) = &row.snapshot_id {
            spec.layers = self.snapshot_layers(snapshot_id)?;
        }
        Ok(spec)
    }

    /// The launch of a sandbox on a runtime that pulls its image itself.
    fn workload_spec(&self, row: &SandboxRow) -> ServiceResult<LaunchSpec> {
        let spec = &row.spec;
        let workload = crate::runtime::Workload {
            image: row.image.clone(),
            command: spec.command.clone(),
            args: spec.args.clone(),
            record: Some(crate::runtime::SharedRecord {
                id: row.id.clone(),
                name: row.name.clone(),
                image: row.image.clone(),
                spec: spec.clone(),
                created_at: row.created_at,
            }),
        };
        let argv = workload.command.iter().chain(&workload.args).flatten().cloned().collect();
        Ok(LaunchSpec {
            sandbox_id: row.id.clone(),
            rootfs: std::path::PathBuf::new(),
            layers: Vec::new(),
            image_mounts: Vec::new(),
            argv,
            env: spec.env.iter().flatten().map(|(k, v)| (k.clone(), v.clone())).collect(),
            cwd: "/".to_owned(),
            user: DEFAULT_USER,
            mounts: Vec::new(),
            network: super::networking::network_mode(spec)?,
            limits: Limits { disk_bytes: self.options.sandbox_disk_bytes, ..limits_of(spec)? },
            workload: Some(workload),
        })
    }

    fn launch_spec(&self, row: &SandboxRow, image: ResolvedImage) -> ServiceResult<LaunchSpec> {
        let spec = &row.spec;
        let config = image.config;
        // Kubernetes semantics: `command` replaces the entrypoint (and drops the image's cmd),
        // `args` replaces the cmd.
        let argv: Vec<String> = match (&spec.command, &spec.args) {
            (Some(command), args) => command.iter().chain(args.iter().flatten()).cloned().collect(),
            (None, Some(args)) => config.entrypoint.iter().chain(args).cloned().collect(),
            (None, None) => config.entrypoint.iter().chain(&config.cmd).cloned().collect(),
        };
        if argv.is_empty() {
            return Err(ServiceError::invalid(format!(
                "image {} defines no command to run: pass command (e.g. [\"sleep\", \"infinity\"])",
                row.image
            )));
        }
        let mut env: Vec<(String, String)> = config.env.clone();
        for (key, value) in spec.env.iter().flatten() {
            env.retain(|(k, _)| k != key);
            env.push((key.clone(), value.clone()));
        }
        if !env.iter().any(|(k, _)| k == "PATH") {
            env.push((
                "PATH".into(),
                "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into(),
            ));
        }
        let user = match config.user.as_deref() {
            None | Some("") => DEFAULT_USER,
            Some(user) => resolve_user(&image.rootfs, user)?,
        };
        let volumes_root = self.options.data_dir.join("volumes");
        let mounts = spec
            .volume_mounts
            .iter()
            .flatten()
            .map(|(target, volume_id)| {
                let source = volumes_root.join(volume_id);
                crate::volumes::storage::check_mounted(&source).map_err(ServiceError::internal)?;
                Ok(crate::runtime::BindMount { source, target: target.clone(), read_only: false })
            })
            .collect::<ServiceResult<_>>()?;
        let network = super::networking::network_mode(spec)?;
        Ok(LaunchSpec {
            sandbox_id: row.id.clone(),
            rootfs: image.rootfs,
            image_mounts: image.mounts,
            argv,
            env,
            cwd: config.workdir.filter(|w| w.starts_with('/')).unwrap_or_else(|| "/".to_owned()),
            user,
            mounts,
            network,
            layers: Vec::new(),
            limits: Limits { disk_bytes: self.options.sandbox_disk_bytes, ..limits_of(spec)? },
            workload: None,
        })
    }

    /// Records a terminal phase (the first terminal transition wins) and releases the
    /// sandbox's volumes; `Ok(false)` when it was already terminal.
    pub(crate) fn settle(
        &self,
        id: &str,
        phase: &StatusResponsePhase,
        exit_code: Option<i32>,
        reason: StatusResponseTerminationReason,
    ) -> Result<bool, crate::store::StoreError> {
        let update = PhaseUpdate {
            finished_at: Some(now_micros()),
            exit_code: exit_code.map(i64::from),
            termination_reason: Some(reason),
            ..PhaseUpdate::default()
        };
        if !self.store.set_phase(id, phase, &update)? {
            return Ok(false);
        }
        if let Err(err) = self.store.detach_sandbox(id) {
            tracing::warn!("detaching the volumes of {id}: {err}");
        }
        Ok(true)
    }

    /// Settles a sandbox in a terminal phase (retrying while the store fails, e.g. on a full
    /// disk, so it never stays live by mistake) and stops whatever still runs.
    pub(crate) async fn finish(
        &self,
        id: &str,
        phase: &StatusResponsePhase,
        exit_code: Option<i32>,
        reason: StatusResponseTerminationReason,
    ) {
        let mut delays = super::teardown::RETRY_DELAYS.iter();
        loop {
            match self.settle(id, phase, exit_code, reason.clone()) {
                Ok(true) => {
                    if *phase == StatusResponsePhase::Terminated && self.runtime.shared() {
                        self.runtime.record_end(id, reason.as_str()).await;
                    }
                    break;
                }
                Ok(false) => return,
                Err(err) => match delays.next() {
                    Some(delay) => {
                        tracing::warn!("cannot record the end of {id} ({err}); retrying");
                        tokio::time::sleep(*delay).await;
                    }
                    None => {
                        tracing::error!("cannot record the end of {id}: {err}; stopping it anyway");
                        break;
                    }
                },
            }
        }
        let _ = self.teardown(id).await;
    }

    /// Logs why a workload or an exec (`exec_id`) ended with SIGKILL (137): the kernel's OOM
    /// killer when the sandbox's counter says so, with the limit to raise.
    pub(crate) fn explain_kill(&self, id: &str, code: i32, exec: Option<(&str, u64)>) {
        if code != 137 {
            return;
        }
        let Ok(row) = self.sandbox_row(id) else { return };
        let limit = row.spec.resources.as_ref().and_then(|r| r.memory.clone()).unwrap_or_default();
        let line = match exec {
            Some((exec_id, before)) => {
                let after = self.runtime.usage(id).map_or(0, |u| u.oom_kills);
                if after <= before {
                    return;
                }
                format!(
                    "exec {exec_id} was killed by the kernel's OOM killer: the sandbox reached \
                     its memory limit of {limit}; create it with a larger resources.memory"
                )
            }
            None if self.last_oom_kills(id) > 0 => format!(
                "the workload was killed by the kernel's OOM killer (exit code 137): the sandbox \
                 reached its memory limit of {limit}; create it with a larger resources.memory"
            ),
            None => format!(
                "the workload was killed by SIGKILL (exit code 137); if it ran out of memory, \
                 its limit was {limit}: create it with a larger resources.memory"
            ),
        };
        self.log_system(id, LogLineLevel::Error, &line);
    }

    /// A line in the sandbox's log from the server itself (launch failures); false when it
    /// could not be stored.
    pub(crate) fn log_system(&self, id: &str, level: LogLineLevel, line: &str) -> bool {
        let entry =
            NewLogLine { ts: now_micros(), level, line: line.to_owned(), exec_id: String::new() };
        match self.store.append_logs(id, &[entry]) {
            Ok(()) => true,
            Err(err) => {
                tracing::warn!("cannot log for {id}: {err}");
                false
            }
        }
    }

    /// Terminates every live sandbox (`user_terminated`): the end of an ephemeral server.
    pub async fn terminate_all(&self) {
        let live = self.store.live_sandboxes().unwrap_or_else(|err| {
            tracing::error!("listing live sandboxes: {err}");
            Vec::new()
        });
        for row in live {
            self.finish(
                &row.id,
                &StatusResponsePhase::Terminated,
                None,
                StatusResponseTerminationReason::UserTerminated,
            )
            .await;
        }
    }

    /// After a restart: re-adopts sandboxes whose workload still runs, settles the rest.
    pub(super) async fn recover(&self) {
        let live = match self.store.live_sandboxes() {
            Ok(live) => live,
            Err(err) => {
                tracing::error!("recovery: {err}");
                return;
            }
        };
        for row in live {
            let state = row.runtime_state.as_deref().and_then(|s| serde_json::from_str(s).ok());
            let outcome = match state {
                Some(state) if row.phase == StatusResponsePhase::Running => {
                    self.runtime.adopt(&row.id, state, self.events.clone()).await
                }
                _ => Adoption::Lost,
            };
            match outcome {
                Adoption::Running => tracing::info!("re-adopted {}", row.id),
                Adoption::Exited(code) => {
                    let phase = if code == 0 {
                        StatusResponsePhase::Succeeded
                    } else {
                        StatusResponsePhase::Failed
                    };
                    self.finish(
                        &row.id,
                        &phase,
                        Some(code),
                        StatusResponseTerminationReason::WorkloadExited,
                    )
                    .await;
                }
                Adoption::Lost => {
                    self.log_system(
                        &row.id,
                        LogLineLevel::Error,
                        "the sandbox was lost when the server restarted",
                    );
                    self.finish(
                        &row.id,
                        &StatusResponsePhase::Failed,
                        None,
                        StatusResponseTerminationReason::BackendLost,
                    )
                    .await;
                }
            }
        }
    }
}

/// The cgroup limits of a sandbox: its (effective, see `create_sandbox`) resources and the
/// fixed process limit.
fn limits_of(spec: &porter_sandbox::types::SandboxSpec) -> ServiceResult<Limits> {
    let resources = spec.resources.as_ref();
    let cpu = resources.and_then(|r| r.cpu.as_deref()).map(super::quantity::cpu_millis);
    let memory = resources.and_then(|r| r.memory.as_deref()).map(super::quantity::memory_bytes);
    Ok(Limits {
        pids: Some(PIDS_LIMIT),
        cpu_millis: cpu.transpose()?,
        memory_bytes: memory.transpose()?,
        disk_bytes: None,
    })
}

/// `uid[:gid]` or a user name from the image's `/etc/passwd`.
fn resolve_user(rootfs: &std::path::Path, user: &str) -> ServiceResult<(u32, u32)> {
    let (name, group) = user.split_once(':').map_or((user, None), |(u, g)| (u, Some(g)));
    let passwd = std::fs::read_to_string(rootfs.join("etc/passwd")).unwrap_or_default();
    let entry = |field: usize, key: &str| {
        passwd
            .lines()
            .map(|l| l.split(':').collect::<Vec<_>>())
            .find(|f| f.first() == Some(&key))
            .and_then(|f| f.get(field)?.parse::<u32>().ok())
    };
    let uid = name.parse::<u32>().ok().or_else(|| entry(2, name)).ok_or_else(|| {
        ServiceError::invalid(format!("the image's user {name:?} is not in its /etc/passwd"))
    })?;
    let gid = match group {
        Some(g) => g.parse::<u32>().map_err(|_| {
            ServiceError::invalid(format!("the image's group {g:?} must be numeric"))
        })?,
        None => passwd
            .lines()
            .map(|l| l.split(':').collect::<Vec<_>>())
            .find(|f| f.get(2).and_then(|u| u.parse::<u32>().ok()) == Some(uid))
            .and_then(|f| f.get(3)?.parse().ok())
            .unwrap_or(uid),
    };
    Ok((uid, gid))
}
