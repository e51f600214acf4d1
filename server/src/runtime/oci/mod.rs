//! The OCI runtime: every sandbox is a crun container on a per-sandbox overlay of its image.
//!
//! Sandboxes outlive the server. Each one has a directory `<state_dir>/<id>/` holding
//! everything needed to find it again after a restart:
//!
//! | entry | what |
//! |---|---|
//! | `bundle/config.json` | the OCI config (`bundle.rs`) |
//! | `upper/`, `work/` | the writable layer and overlay scratch (mounted on `shim::ROOT_MOUNT`) |
//! | `layer.img`, `layer/` | with a disk limit: the image holding `upper/` and `work/` (`quota.rs`) |
//! | `stdout.log`, `stderr.log` | the workload's output (tailed into events by `tail.rs`) |
//! | `offsets` | how far the logs were sent as events |
//! | `shim.pid`, `container.pid`, `slirp.pid` | the supervisor, the container's init, slirp4netns |
//! | `slirp.sock`, `egress.nft` | slirp4netns's API (port forwarding), the egress rules installed |
//! | `exit_code` | written by the supervisor when the workload ended |
//! | `process.json` | user, cwd and environment for execs |
//! | `netns` | mountpoint of the network namespace (inside the supervisor's mount namespace) |
//!
//! Resource counters come from the sandbox's cgroup (`usage.rs`); snapshots copy `upper/`
//! while the sandbox is frozen (`snapshot.rs`).
//!
//! A detached supervisor (`shim.rs`) runs `crun run` in the foreground and records its status,
//! so the exit code is known even if it happened while the server was down.
//!
//! Ids: every sandbox runs in a user namespace mapped to the sandboxes' host id range
//! ([`crate::runtime::idmap`]); images are unpacked into that range, and the writable layer's
//! root belongs to the range's root.
//!
//! Volume ownership: a volume directory owned by a host id outside that range (host root when
//! the server just made it) is handed to the workload's uid:gid *in the range*
//! (non-recursively) before it is mounted, so the workload can create files in it; what it
//! writes is owned by range ids on the host. A volume already owned by an id of the range is
//! left alone.

use crate::runtime::RuntimeError;
mod agent;
mod bundle;
mod check;
mod cleanup;
mod dns;
mod dns_wire;
pub(crate) mod exec;
mod firewall;
pub(crate) mod host;
mod layer_pool;
mod network;
mod ports;
mod processes;
mod quota;
mod reconcile;
mod seccomp;
mod shim;
mod snapshot;
mod tail;
mod usage;

use std::{
    collections::HashMap,
    fs::DirBuilder,
    os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt},
    path::{Path, PathBuf},
    sync::{Arc, Mutex, OnceLock},
    time::Duration,
};

use serde_json::{Value, json};
use tokio::task::JoinHandle;

pub use self::dns::ENV_EGRESS_HOSTS;
use super::idmap::{self, IdRange};
use super::{Adoption, BoxFuture, ExecOutput, LaunchSpec, NetworkMode, Runtime, Started, Usage};

/// Parent of every sandbox's cgroup (`/sys/fs/cgroup/<controller>/porter-sandbox/<id>`).
pub(crate) const CGROUP_PARENT: &str = "porter-sandbox";

/// How long crun may take to create a container.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// Held (shared) while containers are being created: crun creates the `porter-sandbox` cgroup
/// parent and then the sandbox's leaf, so the empty parents are only removed when this can be
/// taken exclusively. One per process, shared by every [`OciRuntime`] in it.
fn starting() -> &'static tokio::sync::RwLock<()> {
    static STARTING: OnceLock<tokio::sync::RwLock<()>> = OnceLock::new();
    STARTING.get_or_init(|| tokio::sync::RwLock::new(()))
}

/// The paths of one sandbox's state.
#[derive(Debug, Clone)]
struct Layout {
    id: String,
    dir: PathBuf,
}

impl Layout {
    fn bundle(&self) -> PathBuf {
        self.dir.join("bundle")
    }
    fn stdout(&self) -> PathBuf {
        self.dir.join("stdout.log")
    }
    fn stderr(&self) -> PathBuf {
        self.dir.join("stderr.log")
    }
    fn offsets(&self) -> PathBuf {
        self.dir.join("offsets")
    }
    fn shim_pid(&self) -> PathBuf {
        self.dir.join("shim.pid")
    }
    fn container_pid(&self) -> PathBuf {
        self.dir.join("container.pid")
    }
    fn process_json(&self) -> PathBuf {
        self.dir.join("process.json")
    }
    fn netns(&self) -> PathBuf {
        self.dir.join("netns")
    }
    /// The workload's exit status, once the supervisor recorded it.
    fn exit_code(&self) -> Option<i32> {
        std::fs::read_to_string(self.dir.join("exit_code")).ok()?.trim().parse().ok()
    }
    fn read_defaults(&self) -> Result<bundle::ProcessDefaults, RuntimeError> {
        let text = std::fs::read_to_string(self.process_json())
            .map_err(|e| format!("sandbox {} has no process record: {e}", self.id))?;
        serde_json::from_str(&text)
            .map_err(|e| RuntimeError::other(format!("bad process record of {}: {e}", self.id)))
    }
}

/// Runs sandboxes as OCI containers with crun (or runc).
#[derive(Debug)]
pub struct OciRuntime {
    state_dir: PathBuf,
    /// The log tailers of the sandboxes this object watches.
    tailers: Mutex<HashMap<String, JoinHandle<()>>>,
    /// One lock per sandbox being started or torn down: a kill racing another kill (or a
    /// start) of the same sandbox waits instead of deleting files under its feet.
    busy: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// The DNS filters of the sandboxes with egress allow-lists (they stop when dropped).
    filters: Mutex<HashMap<String, dns::Filter>>,
    /// The exec agents of the sandboxes (see `agent.rs`).
    agents: Mutex<HashMap<String, Arc<agent::Slot>>>,
    version: OnceLock<String>,
    /// Size-limited writable layers made ahead (see `layer_pool.rs`).
    pool: Arc<layer_pool::LayerPool>,
}

impl OciRuntime {
    /// A runtime keeping one directory per sandbox in `state_dir` (`<data-dir>/sandboxes`).
    /// Nothing is checked or started yet; see [`OciRuntime::detect`].
    #[must_use]
    pub fn new(state_dir: PathBuf) -> Self {
        Self {
            tailers: Mutex::new(HashMap::new()),
            busy: Mutex::new(HashMap::new()),
            filters: Mutex::new(HashMap::new()),
            agents: Mutex::new(HashMap::new()),
            version: OnceLock::new(),
            pool: layer_pool::LayerPool::new(&state_dir),
            state_dir,
        }
    }

    /// The directory holding the sandboxes' state.
    #[must_use]
    pub fn state_dir(&self) -> &Path {
        &self.state_dir
    }

    /// Checks that this host can run sandboxes: root, crun (or runc), tini-static, overlayfs.
    /// Returns the OCI runtime's path; the error lists every problem and what to install.
    /// slirp4netns is only needed for [`NetworkMode::Nat`]: without it, only such launches fail.
    pub fn detect() -> Result<PathBuf, RuntimeError> {
        check::detect()
    }

    fn layout(&self, id: &str) -> Layout {
        Layout { id: id.to_owned(), dir: self.state_dir.join(id) }
    }

    /// Exclusive use of sandbox `id` for a start or a teardown.
    async fn lock(&self, id: &str) -> tokio::sync::OwnedMutexGuard<()> {
        let lock = {
            let mut busy = self.busy.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            // Forget the locks nobody holds or waits for.
            busy.retain(|_, l| Arc::strong_count(l) > 1);
            busy.entry(id.to_owned()).or_default().clone()
        };
        lock.lock_owned().await
    }

    fn spawn_tailer(&self, layout: Layout, events: super::EventSender) {
        let id = layout.id.clone();
        let handle = tokio::spawn(tail::Tailer::new(layout, events).run());
        let mut tailers = self.tailers.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        tailers.retain(|_, h| !h.is_finished());
        if let Some(old) = tailers.insert(id, handle) {
            old.abort();
        }
    }

    fn set_filter(&self, id: &str, filter: Option<dns::Filter>) {
        let mut filters = self.filters.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        match filter {
            Some(filter) => filters.insert(id.to_owned(), filter),
            None => filters.remove(id),
        };
    }

    /// The exec agent slot of sandbox `id`.
    fn agent_slot(&self, id: &str) -> Arc<agent::Slot> {
        let mut agents = self.agents.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        agents.entry(id.to_owned()).or_default().clone()
    }

    /// Forgets the exec agent of `id` (closing its socket ends it).
    fn drop_agent(&self, id: &str) {
        let mut agents = self.agents.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        agents.remove(id);
    }

    /// Runs `spec` in the sandbox: through its exec agent when it has one, else (or when the
    /// agent could not take the command) with `crun exec`.
    async fn exec_in(
        &self,
        layout: &Layout,
        engine: &Path,
        spec: super::ExecSpec,
    ) -> Result<ExecOutput, RuntimeError> {
        let defaults = exec::check_runnable(layout, &spec)?;
        if let Some(agent) = self.agent_slot(&layout.id).get(layout, engine).await {
            let env = bundle::merge_env(&defaults.env, &spec.env);
            match agent.run(spec.clone(), env, defaults.cwd.clone()).await {
                Ok(output) => return Ok(output),
                Err(agent::Failure::NotStarted(err)) => {
                    tracing::debug!("exec agent of {}: {err}; using crun exec", layout.id);
                }
            }
        }
        exec::run(layout, engine, spec).await
    }

    /// Stops the tailer of `id` and waits until it is gone: it writes into the sandbox
    /// directory, which a teardown is about to remove.
    async fn stop_tailer(&self, id: &str) {
        let handle = {
            let mut tailers =
                self.tailers.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            tailers.remove(id)
        };
        if let Some(handle) = handle {
            handle.abort();
            let _ = handle.await;
        }
    }

    async fn start_sandbox(
        &self,
        spec: LaunchSpec,
        events: super::EventSender,
    ) -> Result<Started, RuntimeError> {
        validate_id(&spec.sandbox_id)?;
        let engine = Self::detect()?;
        let tini = check::tini_path().ok_or("tini-static is not installed")?;
        let _busy = self.lock(&spec.sandbox_id).await;
        let layout = self.layout(&spec.sandbox_id);
        self.stop_tailer(&layout.id).await;
        self.set_filter(&layout.id, None);
        if layout.dir.exists() {
            // Left over from an earlier attempt with the same id.
            cleanup::teardown(&layout, Some(&engine)).await?;
        }
        match self.launch(&layout, &spec, &engine, &tini).await {
            Ok((started, filter)) => {
                self.set_filter(&layout.id, filter);
                // The agent starts now, so the first command does not wait for it.
                let (slot, agent_layout) = (self.agent_slot(&layout.id), layout.clone());
                tokio::spawn(async move { slot.get(&agent_layout, &engine).await });
                self.spawn_tailer(layout, events);
                Ok(started)
            }
            Err(err) => {
                if let Err(cleanup) = cleanup::teardown(&layout, Some(&engine)).await {
                    tracing::warn!("cleanup after the failed start of {}: {cleanup}", layout.id);
                }
                Err(err)
            }
        }
    }

    async fn launch(
        &self,
        layout: &Layout,
        spec: &LaunchSpec,
        engine: &Path,
        tini: &Path,
    ) -> Result<(Started, Option<dns::Filter>), RuntimeError> {
        let io = |what: &str| {
            let what = what.to_owned();
            move |e: std::io::Error| format!("cannot {what}: {e}")
        };
        let ids = idmap::range()?;
        if !spec.rootfs.is_dir() {
            return Err(RuntimeError::other(format!(
                "the image's root filesystem {} is missing",
                spec.rootfs.display()
            )));
        }
        if let Some(layer) = spec.layers.iter().find(|l| !l.is_dir()) {
            return Err(RuntimeError::other(format!(
                "the snapshot layer {} is missing",
                layer.display()
            )));
        }
        std::fs::create_dir_all(&self.state_dir).map_err(io("create the state directory"))?;
        // 0700: the writable layer holds the workload's files.
        DirBuilder::new().mode(0o700).create(&layout.dir).map_err(io("create the sandbox dir"))?;
        for sub in ["bundle", "upper", "work"] {
            std::fs::create_dir(layout.dir.join(sub)).map_err(io("create the sandbox dirs"))?;
        }
        // The overlay's root directory takes its mode and owner from `upper`: never the
        // server's umask, and the sandbox's root.
        let upper = layout.dir.join("upper");
        std::fs::set_permissions(&upper, std::fs::Permissions::from_mode(0o755))
            .map_err(io("set the mode of the writable layer"))?;
        std::os::unix::fs::chown(&upper, Some(ids.uid_base), Some(ids.gid_base))
            .map_err(io("give the writable layer to the sandbox's root"))?;
        for volume in spec.mounts.iter().filter(|m| !m.read_only) {
            hand_over(&volume.source, spec.user, ids)?;
        }
        let defaults = bundle::ProcessDefaults::from_spec(spec);
        let record = serde_json::to_vec(&defaults).map_err(|e| e.to_string())?;
        std::fs::write(layout.process_json(), record).map_err(io("write the process record"))?;
        if matches!(spec.network, NetworkMode::Nat(_)) {
            std::fs::write(layout.netns(), b"").map_err(io("create the netns mountpoint"))?;
        }

        // The writable layer (after the chown: the size-limited one copies `upper`'s owner and
        // mode) and the network do not depend on each other: both are made at the same time,
        // the layer off the async workers (it may run mkfs.ext4).
        let layer = async {
            let took = std::time::Instant::now();
            let (dir, size, pool) = (layout.dir.clone(), spec.limits.disk_bytes, self.pool.clone());
            tokio::task::spawn_blocking(move || quota::prepare(&dir, size, &pool))
                .await
                .map_err(|e| format!("the writable layer's task failed: {e}"))??;
            Ok::<_, RuntimeError>(took.elapsed())
        };
        let netns = async {
            let took = std::time::Instant::now();
            if let NetworkMode::Nat(nat) = &spec.network {
                network::create(&layout.id, &layout.dir, nat).await?;
            }
            Ok::<_, RuntimeError>(took.elapsed())
        };
        let (layer_took, netns_took) = tokio::join!(layer, netns);
        let (layer_took, netns_took) = (layer_took?, netns_took?);
        let nat = match &spec.network {
            NetworkMode::None => None,
            NetworkMode::Nat(nat) => Some(nat),
        };
        let netns_file = nat.map(|_| layout.netns());
        let agent_binary = agent::binary();
        let config = bundle::config(
            spec,
            &defaults,
            Path::new(shim::ROOT_MOUNT),
            netns_file.as_deref(),
            (tini, agent_binary),
            ids,
        )?;
        if agent_binary.is_some() {
            let process = bundle::exec_process(&defaults, vec![agent::AGENT_PATH.to_owned()], &[]);
            agent::record_spec(layout, &process)?;
        }
        std::fs::write(layout.bundle().join("config.json"), config.to_string())
            .map_err(io("write config.json"))?;

        let starting = starting().read().await;
        let netns_source = nat.map(|_| network::netns_path(&layout.id));
        let lowers: Vec<&Path> =
            spec.layers.iter().map(PathBuf::as_path).chain([spec.rootfs.as_path()]).collect();
        let supervisor = std::time::Instant::now();
        let mut shim = shim::spawn(layout, engine, &lowers, netns_source.as_deref())?;
        // slirp4netns comes up while the supervisor mounts the container's filesystems; the
        // container starts only once the network works (an error here drops the shim's gate,
        // and it ends without starting anything).
        let attach_took = std::time::Instant::now();
        let mut network = match nat {
            Some(nat) => Some(network::attach(&layout.id, &layout.dir, nat).await?),
            None => None,
        };
        let attach_took = attach_took.elapsed();
        shim.go().await?;
        shim::wait_started(layout, START_TIMEOUT).await?;
        drop(starting);
        tracing::debug!(
            "started {}: writable layer {layer_took:?}, netns {netns_took:?}, slirp4netns \
             {attach_took:?}, supervisor until the container existed {:?}",
            layout.id,
            supervisor.elapsed()
        );
        let state = json!({
            "dir": layout.dir.to_string_lossy(),
            "shim_pid": shim.pid,
            "network": network.as_ref().map(network::Network::to_json),
            "container": layout.id,
        });
        let internal_address = network.as_ref().and_then(|n| n.forward).map(|(_, host)| host);
        let filter = network.as_mut().and_then(|n| n.dns.take());
        Ok((Started { state, internal_address }, filter))
    }

    async fn kill_sandbox(&self, id: &str) -> Result<(), RuntimeError> {
        validate_id(id)?;
        let _busy = self.lock(id).await;
        self.stop_tailer(id).await;
        self.set_filter(id, None);
        self.drop_agent(id);
        let layout = self.layout(id);
        cleanup::teardown(&layout, check::engine_path().as_deref()).await?;
        if let Ok(_exclusive) = starting().try_write() {
            cleanup::remove_cgroup_parents();
        }
        Ok(())
    }

    async fn adopt_sandbox(&self, id: &str, state: &Value, events: super::EventSender) -> Adoption {
        if validate_id(id).is_err() {
            return Adoption::Lost;
        }
        let layout = self.layout(id);
        let engine = check::engine_path();
        let shim = host::read_pid_file(&layout.shim_pid()).or_else(|| {
            let pid = u32::try_from(state["shim_pid"].as_u64()?).ok()?;
            Some((pid, None))
        });
        let shim_alive = || shim.is_some_and(|(pid, start)| host::alive(pid, start));
        let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
        if layout.dir.is_dir() {
            loop {
                // Liveness first: a supervisor seen dead has written its exit_code, if ever.
                let alive = shim_alive();
                if let Some(code) = layout.exit_code() {
                    // Send what was printed while nobody watched; the server settles the exit.
                    tail::Tailer::new(layout.clone(), events).pump(true).await;
                    return Adoption::Exited(code);
                }
                if !alive {
                    break;
                }
                // Unknown (the engine cannot tell) is handled like "not yet running": polled until
                // the deadline; the teardown that follows then refuses to delete anything.
                let status = match &engine {
                    Some(engine) => cleanup::container_status(engine, id).await.ok().flatten(),
                    None => None,
                };
                if status.as_deref() == Some("paused") {
                    // A capture was cut short by the previous server's end: thaw it.
                    if let Some(engine) = &engine {
                        snapshot::thaw(engine, id).await;
                    }
                    continue;
                }
                if status.as_deref() == Some("running") {
                    match network::resume(id, &state["network"]).await {
                        Ok(filter) => self.set_filter(id, filter),
                        // It keeps running; only names stop resolving.
                        Err(err) => tracing::warn!("cannot restart the DNS filter of {id}: {err}"),
                    }
                    self.spawn_tailer(layout, events);
                    return Adoption::Running;
                }
                // Being created, or just ended: the supervisor will say which.
                if tokio::time::Instant::now() >= deadline {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        if let Err(err) = self.kill_sandbox(id).await {
            tracing::warn!("cleanup of lost sandbox {id}: {err}");
        }
        Adoption::Lost
    }
}

impl Drop for OciRuntime {
    /// Stops watching; the sandboxes themselves keep running (a new runtime adopts them).
    fn drop(&mut self) {
        let tailers = self.tailers.get_mut().unwrap_or_else(std::sync::PoisonError::into_inner);
        for (_, handle) in tailers.drain() {
            handle.abort();
        }
        self.pool.close();
    }
}

impl Runtime for OciRuntime {
    fn name(&self) -> String {
        let version = self.version.get_or_init(|| {
            let Some(engine) = check::engine_path() else {
                return "crun (not installed)".to_owned();
            };
            let output = std::process::Command::new(&engine).arg("--version").output();
            let text = output.map(|o| String::from_utf8_lossy(&o.stdout).into_owned());
            // "crun version 1.8.1" → "crun 1.8.1"
            let first = text.unwrap_or_default().lines().next().unwrap_or_default().to_owned();
            first.replacen(" version", "", 1)
        });
        format!("oci/{version}")
    }

    fn check(&self) -> Result<(), RuntimeError> {
        Self::detect().map(|_| ())
    }

    fn start(
        &self,
        spec: LaunchSpec,
        events: super::EventSender,
    ) -> BoxFuture<'_, Result<Started, RuntimeError>> {
        Box::pin(self.start_sandbox(spec, events))
    }

    fn exec_with(
        &self,
        sandbox_id: &str,
        spec: super::ExecSpec,
    ) -> BoxFuture<'_, Result<ExecOutput, RuntimeError>> {
        let layout = self.layout(sandbox_id);
        Box::pin(async move {
            validate_id(&layout.id)?;
            let engine = check::engine_path().ok_or_else(check::missing_engine)?;
            self.exec_in(&layout, &engine, spec).await
        })
    }

    fn processes_dir(&self, sandbox_id: &str) -> Option<PathBuf> {
        validate_id(sandbox_id).ok()?;
        Some(self.layout(sandbox_id).dir.join("processes"))
    }

    fn process_command(
        &self,
        sandbox_id: &str,
        spec: &super::ExecSpec,
        terminal: Option<porter_sandbox::types::TerminalSize>,
        dir: &Path,
    ) -> Result<super::ProcessCommand, RuntimeError> {
        validate_id(sandbox_id)?;
        let engine = check::engine_path().ok_or_else(check::missing_engine)?;
        processes::command(&self.layout(sandbox_id), &engine, spec, terminal, dir)
    }

    fn usage(&self, sandbox_id: &str) -> Option<Usage> {
        validate_id(sandbox_id).ok()?;
        usage::read(&self.layout(sandbox_id))
    }

    fn snapshot(
        &self,
        sandbox_id: &str,
        dest: PathBuf,
    ) -> BoxFuture<'_, Result<u64, RuntimeError>> {
        let id = sandbox_id.to_owned();
        Box::pin(async move {
            validate_id(&id)?;
            let engine = check::engine_path().ok_or_else(check::missing_engine)?;
            // Not while the sandbox is being torn down (or started).
            let _busy = self.lock(&id).await;
            let layout = self.layout(&id);
            if !layout.dir.is_dir() {
                return Err(RuntimeError::NotFound(format!("sandbox {id} is not running")));
            }
            snapshot::capture(&layout, &engine, &dest).await
        })
    }

    fn kill(&self, sandbox_id: &str) -> BoxFuture<'_, Result<(), RuntimeError>> {
        let id = sandbox_id.to_owned();
        Box::pin(async move { self.kill_sandbox(&id).await })
    }

    fn adopt(
        &self,
        sandbox_id: &str,
        state: Value,
        events: super::EventSender,
    ) -> BoxFuture<'_, Adoption> {
        let id = sandbox_id.to_owned();
        Box::pin(async move { self.adopt_sandbox(&id, &state, events).await })
    }

    fn found(&self) -> BoxFuture<'_, Vec<String>> {
        Box::pin(async move { self.found_sandboxes().await.into_iter().collect() })
    }
}

/// Sandbox ids become paths, cgroup names, netns names and hostnames: lowercase letters,
/// digits, `-` and `_`, 1–63 characters, not starting with `-`.
fn validate_id(id: &str) -> Result<(), RuntimeError> {
    let ok = !id.is_empty()
        && id.len() <= 63
        && !id.starts_with('-')
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if ok { Ok(()) } else { Err(RuntimeError::Invalid(format!("invalid sandbox id {id:?}"))) }
}

/// Gives a volume directory owned outside the id range to the workload's user in the range
/// (see the module docs).
fn hand_over(dir: &Path, (uid, gid): (u32, u32), ids: IdRange) -> Result<(), RuntimeError> {
    let meta = std::fs::symlink_metadata(dir)
        .map_err(|e| format!("volume directory {}: {e}", dir.display()))?;
    if !meta.is_dir() {
        return Err(RuntimeError::other(format!("volume {} is not a directory", dir.display())));
    }
    if !ids.contains_uid(meta.uid()) {
        let (host_uid, host_gid) = (ids.host_uid(uid), ids.host_gid(gid));
        std::os::unix::fs::chown(dir, Some(host_uid), Some(host_gid)).map_err(|e| {
            format!("cannot give volume {} to uid {uid} (host uid {host_uid}): {e}", dir.display())
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_checked() {
        for good in ["sb-4k2j9x0q1m7z", "a", "x_1"] {
            assert!(validate_id(good).is_ok(), "{good}");
        }
        for bad in ["", "-a", "A", "a/b", "..", "a b", &"x".repeat(64)] {
            assert!(validate_id(bad).is_err(), "{bad}");
        }
    }
}
