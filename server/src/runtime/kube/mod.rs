//! The Kubernetes runtime (`serve --runtime kubernetes`): every sandbox is a pod of one
//! namespace, named by the sandbox id and labelled with it.
//!
//! - A sandbox is `running` only once its pod is ready, and readiness is the exec agent run by
//!   the node (the pod's readiness probe): never "running" while no command could run. The
//!   agent comes from this server's image through an init container into a volume the
//!   workload's container mounts read-only (see [`objects::pod`]).
//! - Exec runs through the agent over one `pods/exec` stream per sandbox (`exec.rs`).
//! - Processes (the extension) have their supervisor on this server's host, as on the local
//!   runtime, which runs a bridge ([`bridge`]) with a `pods/exec` stream of its own to the
//!   agent: output, records and the supervisor survive a restart of the server (on this host).
//! - Output comes from `pods/log` (`logs.rs`); the end of the workload from one watch of every
//!   pod of the runtime (a deleted pod ends its sandbox with 137).
//! - Limits are requests = limits; egress allow-lists of addresses become network policies;
//!   an exposed port becomes a service. Snapshots, volumes and hostname allow-lists are refused
//!   with a 400 naming this runtime.

pub mod bridge;
mod exec;
pub mod lease;
mod logs;
pub mod objects;
mod processes;
pub mod state;
mod usage;

use std::{
    collections::HashMap,
    path::PathBuf,
    sync::{Arc, Mutex, Weak},
    time::Duration,
};

use futures_util::StreamExt;
use k8s_openapi::api::{
    core::v1::{Pod, Service},
    networking::v1::NetworkPolicy,
};
use kube::{
    Client, Config,
    api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams},
    config::{KubeConfigOptions, Kubeconfig},
    runtime::{WatchStreamExt, watcher},
};
use porter_sandbox::types::SandboxSpec;
use tokio::task::JoinHandle;

use self::state::PodState;
use super::{
    Adoption, BoxFuture, EventSender, ExecOutput, ExecSpec, LaunchSpec, Runtime, RuntimeError,
    RuntimeEvent, RuntimeResult, SharedRecord, Started, Usage,
};

/// Settings of the Kubernetes runtime.
#[derive(Debug, Clone)]
pub struct KubeOptions {
    /// A kubeconfig file; `None`: the in-cluster service account, else `KUBECONFIG` or
    /// `~/.kube/config`.
    pub kubeconfig: Option<PathBuf>,
    /// The namespace of the sandboxes' pods.
    pub namespace: String,
    /// The image with this server's binary, whose init container installs the exec agent.
    pub agent_image: String,
    /// How long a pod may take to become ready (scheduling and image pulls included).
    pub start_timeout: Duration,
    /// Where this server keeps the records of the sandboxes' processes, on its host; `None`:
    /// the runtime runs no processes.
    pub state_dir: Option<PathBuf>,
}

impl KubeOptions {
    /// Defaults for `namespace`: the agent image of this version, a 5-minute start.
    #[must_use]
    pub fn new(namespace: impl Into<String>) -> Self {
        Self {
            kubeconfig: None,
            namespace: namespace.into(),
            agent_image: format!("porter-sandbox:{}", env!("CARGO_PKG_VERSION")),
            start_timeout: Duration::from_secs(300),
            state_dir: None,
        }
    }
}

/// Sandboxes whose end the pod watch reports.
type Watched = Arc<Mutex<HashMap<String, Watch>>>;

struct Watch {
    events: EventSender,
    logs: JoinHandle<()>,
    /// Told of every change of the pod (a start waits on it instead of polling).
    changed: Arc<tokio::sync::Notify>,
}

/// The Kubernetes runtime.
pub struct KubeRuntime {
    pods: Api<Pod>,
    services: Api<Service>,
    policies: Api<NetworkPolicy>,
    options: KubeOptions,
    /// Whether the API server answered the last probe (`readyz`).
    health: Arc<Mutex<Result<(), String>>>,
    watched: Watched,
    agents: Mutex<HashMap<String, Arc<exec::Slot>>>,
    usage: usage::Sampler,
    leadership: Arc<lease::Leadership>,
}

impl std::fmt::Debug for KubeRuntime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KubeRuntime").field("options", &self.options).finish_non_exhaustive()
    }
}

/// How often the API server's reachability is probed.
const HEALTH_INTERVAL: Duration = Duration::from_secs(5);

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn not_found(err: &kube::Error) -> bool {
    matches!(err, kube::Error::Api(status) if status.code == 404)
}

fn already_exists(err: &kube::Error) -> bool {
    matches!(err, kube::Error::Api(status) if status.code == 409)
}

impl KubeRuntime {
    /// Connects to the cluster and checks that the namespace's pods can be listed (the error
    /// says what failed: configuration, reachability or permissions). Must run in tokio.
    pub async fn connect(options: KubeOptions) -> Result<Arc<Self>, String> {
        let config = cluster_config(options.kubeconfig.as_deref()).await?;
        let url = config.cluster_url.clone();
        let client = Client::try_from(config)
            .map_err(|e| format!("cannot create a client of the cluster at {url}: {e}"))?;
        let namespace = options.namespace.clone();
        let runtime = Arc::new(Self {
            pods: Api::namespaced(client.clone(), &namespace),
            services: Api::namespaced(client.clone(), &namespace),
            policies: Api::namespaced(client.clone(), &namespace),
            leadership: lease::start(Api::namespaced(client, &namespace)),
            options,
            health: Arc::new(Mutex::new(Ok(()))),
            watched: Arc::default(),
            agents: Mutex::default(),
            usage: usage::Sampler::default(),
        });
        runtime.probe().await.map_err(|e| format!("{e} (cluster {url})"))?;
        tokio::spawn(watch_exits(runtime.pods.clone(), runtime.watched.clone()));
        tokio::spawn(probe_health(Arc::downgrade(&runtime)));
        Ok(runtime)
    }

    /// Lists one pod: proves reachability and the permission the runtime needs most.
    async fn probe(&self) -> Result<(), String> {
        let params = ListParams::default().labels(&objects::managed_selector()).limit(1);
        let result = self.pods.list_metadata(&params).await.map(drop).map_err(|e| {
            format!("cannot list the pods of namespace {}: {e}", self.options.namespace)
        });
        *lock(&self.health) = result.clone();
        result
    }

    fn watch(&self, id: &str, events: EventSender, since: Option<jiff::Timestamp>) {
        let logs =
            tokio::spawn(logs::follow(self.pods.clone(), id.to_owned(), events.clone(), since));
        let watch = Watch { events, logs, changed: Arc::default() };
        if let Some(old) = lock(&self.watched).insert(id.to_owned(), watch) {
            old.logs.abort();
        }
    }

    fn unwatch(&self, id: &str) {
        if let Some(old) = lock(&self.watched).remove(id) {
            old.logs.abort();
        }
        lock(&self.agents).remove(id);
        self.usage.forget(id);
    }

    async fn start_pod(&self, spec: LaunchSpec, events: EventSender) -> Result<Started, String> {
        let id = spec.sandbox_id.clone();
        let pod = objects::pod(&spec, &self.options.agent_image)?;
        if let Some(policy) = objects::network_policy(&spec)? {
            let created = self.policies.create(&PostParams::default(), &policy).await;
            created
                .map(drop)
                .or_else(ok_if_exists)
                .map_err(|e| format!("cannot create the network policy of {id}: {e}"))?;
        }
        let service = match objects::service(&spec)? {
            Some(service) => {
                let created = self.services.create(&PostParams::default(), &service).await;
                let created = match created {
                    Err(e) if already_exists(&e) => self.services.get(&id).await,
                    other => other,
                };
                Some(created.map_err(|e| format!("cannot create the service of {id}: {e}"))?)
            }
            None => None,
        };
        // Watched before it exists: an end right after the start is never missed.
        self.watch(&id, events, None);
        let created = self.pods.create(&PostParams::default(), &pod).await;
        created.map(drop).or_else(ok_if_exists).map_err(|e| {
            self.unwatch(&id);
            format!("cannot create the pod of {id}: {e}")
        })?;
        self.until_ready(&id).await?;
        let address = service.and_then(|service| {
            let spec = service.spec?;
            let ip: std::net::IpAddr = spec.cluster_ip?.parse().ok()?;
            let port = u16::try_from(spec.ports?.first()?.port).ok()?;
            Some(std::net::SocketAddr::new(ip, port))
        });
        Ok(Started {
            state: serde_json::json!({ "pod": id, "namespace": self.options.namespace }),
            internal_address: address,
        })
    }

    /// Waits until the pod is ready — or its container runs and its agent answers this server,
    /// which is sooner than the kubelet's next readiness probe, and leaves the first command
    /// its agent — or until it has already ended (the watch reports that).
    async fn until_ready(&self, id: &str) -> Result<(), String> {
        let deadline = tokio::time::Instant::now() + self.options.start_timeout;
        let changed = lock(&self.watched).get(id).map(|w| w.changed.clone());
        let mut pause = Duration::from_millis(50);
        loop {
            let last = match self.pods.get_opt(id).await {
                Ok(Some(pod)) => match state::of(&pod) {
                    PodState::Ready | PodState::Exited(_) => return Ok(()),
                    PodState::Failed(why) => return Err(why),
                    PodState::Waiting(_)
                        if state::container_running(&pod) && self.answers(id).await =>
                    {
                        return Ok(());
                    }
                    PodState::Waiting(reason) => reason,
                },
                Ok(None) => return Err(format!("the pod of {id} was deleted while it started")),
                Err(err) => Some(format!("the API server: {err}")),
            };
            if tokio::time::Instant::now() >= deadline {
                return Err(format!(
                    "the pod of {id} did not become ready in {} s ({}): check the cluster's \
                     capacity and that it can pull the image",
                    self.options.start_timeout.as_secs(),
                    last.unwrap_or_else(|| "no reason given".to_owned())
                ));
            }
            // The watch tells of every change; the pause only bounds a missed one.
            match &changed {
                Some(changed) => {
                    let _ = tokio::time::timeout(Duration::from_secs(1), changed.notified()).await;
                }
                None => {
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_millis(500));
                }
            }
        }
    }

    /// Whether the sandbox's agent runs a command for this server now (it stays started).
    async fn answers(&self, id: &str) -> bool {
        let slot = lock(&self.agents).entry(id.to_owned()).or_default().clone();
        let Ok(agent) = slot.get(&self.pods, id).await else { return false };
        let ping = ExecSpec {
            argv: vec![objects::AGENT.to_owned(), "--ping".to_owned()],
            timeout: Some(Duration::from_secs(5)),
            ..ExecSpec::default()
        };
        agent.run(ping, Vec::new(), String::new()).await.is_ok_and(|out| out.exit_code == 0)
    }

    async fn delete_all(&self, id: &str) -> Result<(), String> {
        self.unwatch(id);
        // Other servers watching the pod learn it was terminated, not killed from outside.
        let mark = serde_json::json!({ "metadata": { "annotations": {
            objects::TERMINATED_ANNOTATION: "true" } } });
        let marked = self.pods.patch(id, &PatchParams::default(), &Patch::Merge(&mark)).await;
        if let Err(err) = marked.map(drop).or_else(|e| if not_found(&e) { Ok(()) } else { Err(e) })
        {
            tracing::warn!("cannot mark the pod of {id} as terminated: {err}");
        }
        let params = DeleteParams { grace_period_seconds: Some(1), ..DeleteParams::default() };
        let gone = |result: Result<(), kube::Error>, what: &str| {
            result
                .or_else(|e| if not_found(&e) { Ok(()) } else { Err(e) })
                .map_err(|e| format!("cannot delete the {what} of {id}: {e}"))
        };
        gone(self.pods.delete(id, &params).await.map(drop), "pod")?;
        gone(self.services.delete(id, &params).await.map(drop), "service")?;
        gone(self.policies.delete(id, &params).await.map(drop), "network policy")?;
        // Answered once the pod is gone: its node has stopped the workload.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        loop {
            match self.pods.get_opt(id).await {
                Ok(None) => {
                    // Its processes ended with it (their agent's stream closed).
                    if let Some(dir) = processes::sandbox_dir(&self.options, id) {
                        let _ = std::fs::remove_dir_all(dir);
                    }
                    return Ok(());
                }
                Ok(Some(_)) if tokio::time::Instant::now() >= deadline => {
                    return Err(format!("the pod of {id} is still being deleted after 60 s"));
                }
                Ok(Some(_)) => tokio::time::sleep(Duration::from_millis(100)).await,
                Err(err) => return Err(format!("cannot check the pod of {id}: {err}")),
            }
        }
    }

    async fn adopt_pod(&self, id: &str, events: EventSender) -> Adoption {
        match self.pods.get_opt(id).await {
            Ok(None) => Adoption::Lost,
            Ok(Some(pod)) => match state::of(&pod) {
                PodState::Exited(code) => Adoption::Exited(code),
                PodState::Failed(_) => Adoption::Lost,
                PodState::Ready | PodState::Waiting(_) => {
                    // Output from now on: what it printed while no server ran is not replayed.
                    self.watch(id, events, Some(jiff::Timestamp::now()));
                    Adoption::Running
                }
            },
            Err(err) => {
                tracing::warn!("cannot read the pod of {id}: {err}; it is re-adopted");
                self.watch(id, events, Some(jiff::Timestamp::now()));
                Adoption::Running
            }
        }
    }
}

/// The cluster's client settings: from `kubeconfig`, else inferred (in-cluster service account,
/// then `KUBECONFIG` or `~/.kube/config`).
async fn cluster_config(kubeconfig: Option<&std::path::Path>) -> Result<Config, String> {
    match kubeconfig {
        Some(path) => {
            let file = Kubeconfig::read_from(path)
                .map_err(|e| format!("cannot read the kubeconfig {}: {e}", path.display()))?;
            Config::from_custom_kubeconfig(file, &KubeConfigOptions::default())
                .await
                .map_err(|e| format!("the kubeconfig {} is not usable: {e}", path.display()))
        }
        None => Config::infer().await.map_err(|e| {
            format!(
                "no cluster configuration found ({e}): pass --kubeconfig FILE, set KUBECONFIG, \
                 or run the server in a pod"
            )
        }),
    }
}

fn ok_if_exists(err: kube::Error) -> Result<(), kube::Error> {
    if already_exists(&err) { Ok(()) } else { Err(err) }
}

/// Probes the API server until the runtime is dropped.
async fn probe_health(runtime: Weak<KubeRuntime>) {
    loop {
        tokio::time::sleep(HEALTH_INTERVAL).await;
        let Some(runtime) = runtime.upgrade() else { return };
        let _ = runtime.probe().await;
    }
}

/// One watch of every pod of the runtime: reports the end of the watched sandboxes.
async fn watch_exits(pods: Api<Pod>, watched: Watched) {
    let config = watcher::Config::default().labels(&objects::managed_selector());
    let mut stream = std::pin::pin!(watcher(pods, config).default_backoff());
    while let Some(event) = stream.next().await {
        let (pod, deleted) = match event {
            Ok(watcher::Event::Apply(pod) | watcher::Event::InitApply(pod)) => (pod, false),
            Ok(watcher::Event::Delete(pod)) => (pod, true),
            Ok(watcher::Event::Init | watcher::Event::InitDone) => continue,
            Err(err) => {
                tracing::warn!("the watch of the sandboxes' pods failed: {err}; it resumes");
                continue;
            }
        };
        let Some(id) = pod.metadata.name.clone() else { continue };
        if let Some(watch) = lock(&watched).get(&id) {
            watch.changed.notify_one();
        }
        let terminated = pod
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(objects::TERMINATED_ANNOTATION))
            .cloned();
        let event = match (state::of(&pod), terminated) {
            // Marked by the server that terminates it: whatever its state, it was terminated.
            (_, Some(reason)) => RuntimeEvent::Terminated { sandbox_id: id.clone(), reason },
            (PodState::Exited(code), None) => {
                RuntimeEvent::Exited { sandbox_id: id.clone(), exit_code: code }
            }
            // Deleted from outside the servers: the sandbox was killed.
            _ if deleted => RuntimeEvent::Exited { sandbox_id: id.clone(), exit_code: 128 + 9 },
            _ => continue,
        };
        let Some(watch) = lock(&watched).remove(&id) else { continue };
        tokio::spawn(async move {
            // The last lines first, then the end (as the local runtime orders them).
            let mut logs = watch.logs;
            if tokio::time::timeout(Duration::from_secs(5), &mut logs).await.is_err() {
                logs.abort();
            }
            let _ = watch.events.send(event).await;
        });
    }
}

/// Why a sandbox spec cannot run on this runtime.
fn refusal(spec: &SandboxSpec) -> Option<String> {
    if spec.image.trim() == "host" || spec.image.starts_with("oci-layout:") {
        return Some(format!(
            "image {:?} exists only on the local runtime: the kubernetes runtime runs registry \
             images (e.g. \"python:3.12-slim\")",
            spec.image
        ));
    }
    if spec.image.starts_with("docker-archive:") {
        return Some(
            "docker-archive images exist only on the local runtime: push the image to a \
                     registry the cluster can pull from"
                .to_owned(),
        );
    }
    if spec.snapshot_id.is_some() {
        return Some(SNAPSHOTS_REFUSED.to_owned());
    }
    if spec.volume_mounts.as_ref().is_some_and(|m| !m.is_empty()) {
        return Some(
            "volume_mounts are not supported by the kubernetes runtime yet: remove them, \
                     or use the local runtime"
                .to_owned(),
        );
    }
    if let Some(egress) = &spec.egress {
        let list = super::egress::AllowList::parse(&egress.allowed_destinations);
        if list.is_ok_and(|list| list.has_names()) {
            return Some(objects::NAMES_REFUSED.to_owned());
        }
    }
    None
}

const SNAPSHOTS_REFUSED: &str = "snapshots are not supported by the kubernetes runtime yet: \
    use the local runtime (serve --runtime oci) for snapshots";

impl Runtime for KubeRuntime {
    fn name(&self) -> String {
        format!("kubernetes/{}", self.options.namespace)
    }

    fn check(&self) -> RuntimeResult<()> {
        lock(&self.health).clone().map_err(RuntimeError::Unavailable)
    }

    fn pulls_images(&self) -> bool {
        true
    }

    fn refuse(&self, spec: &SandboxSpec) -> Option<String> {
        refusal(spec)
    }

    fn refuse_snapshots(&self) -> Option<String> {
        Some(SNAPSHOTS_REFUSED.to_owned())
    }

    fn shared(&self) -> bool {
        true
    }

    fn leads(&self) -> bool {
        self.leadership.held()
    }

    fn stop(&self) -> BoxFuture<'_, ()> {
        Box::pin(self.leadership.release())
    }

    fn record_end(&self, sandbox_id: &str, reason: &str) -> BoxFuture<'_, ()> {
        let id = sandbox_id.to_owned();
        let mark = serde_json::json!({ "metadata": { "annotations": {
            objects::TERMINATED_ANNOTATION: reason } } });
        Box::pin(async move {
            // Other servers watching the pod learn it was terminated, and why.
            let marked = self.pods.patch(&id, &PatchParams::default(), &Patch::Merge(&mark)).await;
            match marked {
                Ok(_) => {}
                Err(err) if not_found(&err) => {}
                Err(err) => tracing::warn!("cannot mark the pod of {id} as terminated: {err}"),
            }
        })
    }

    fn records(&self) -> BoxFuture<'_, Vec<SharedRecord>> {
        Box::pin(async {
            let params = ListParams::default().labels(&objects::managed_selector());
            let pods = match self.pods.list(&params).await {
                Ok(list) => list.items,
                Err(err) => {
                    tracing::warn!("cannot list the sandboxes' pods: {err}");
                    return Vec::new();
                }
            };
            pods.iter()
                // A pod still starting is adopted once ready: never `running` before that.
                .filter(|pod| matches!(state::of(pod), PodState::Ready | PodState::Exited(_)))
                .filter_map(|pod| {
                    let text =
                        pod.metadata.annotations.as_ref()?.get(objects::RECORD_ANNOTATION)?;
                    serde_json::from_str(text).ok()
                })
                .collect()
        })
    }

    fn start(
        &self,
        spec: LaunchSpec,
        events: EventSender,
    ) -> BoxFuture<'_, RuntimeResult<Started>> {
        Box::pin(async move {
            let id = spec.sandbox_id.clone();
            let started = self.start_pod(spec, events).await;
            if started.is_err() {
                // Nothing of a failed start stays in the cluster.
                if let Err(err) = self.delete_all(&id).await {
                    tracing::warn!("cleanup of {id}: {err}");
                }
            }
            started.map_err(RuntimeError::from)
        })
    }

    fn exec_with(
        &self,
        sandbox_id: &str,
        spec: ExecSpec,
    ) -> BoxFuture<'_, RuntimeResult<ExecOutput>> {
        let id = sandbox_id.to_owned();
        Box::pin(async move {
            let slot = lock(&self.agents).entry(id.clone()).or_default().clone();
            let agent = slot.get(&self.pods, &id).await.map_err(RuntimeError::from)?;
            let env = spec.env.iter().map(|(k, v)| format!("{k}={v}")).collect();
            // An empty directory: the agent's own, the container's working directory.
            agent.run(spec, env, String::new()).await.map_err(|failure| match failure {
                super::agent_client::Failure::NotStarted(err) => {
                    err.context(&format!("the command did not start in {id}"))
                }
            })
        })
    }

    fn supports_processes(&self) -> bool {
        self.options.state_dir.is_some()
    }

    fn processes_dir(&self, sandbox_id: &str) -> Option<PathBuf> {
        Some(processes::sandbox_dir(&self.options, sandbox_id)?.join("processes"))
    }

    fn process_command(
        &self,
        sandbox_id: &str,
        spec: &ExecSpec,
        terminal: Option<porter_sandbox::types::TerminalSize>,
        dir: &std::path::Path,
    ) -> RuntimeResult<super::ProcessCommand> {
        processes::command(&self.options, sandbox_id, spec, terminal, dir)
            .map_err(RuntimeError::from)
    }

    fn usage(&self, sandbox_id: &str) -> Option<Usage> {
        // Only a watched (live) sandbox has an agent to ask.
        if !lock(&self.watched).contains_key(sandbox_id) {
            return None;
        }
        let slot = lock(&self.agents).entry(sandbox_id.to_owned()).or_default().clone();
        self.usage.get(sandbox_id, &self.pods, slot)
    }

    fn snapshot(&self, _sandbox_id: &str, _dest: PathBuf) -> BoxFuture<'_, RuntimeResult<u64>> {
        Box::pin(async { Err(RuntimeError::Unsupported(SNAPSHOTS_REFUSED.to_owned())) })
    }

    fn kill(&self, sandbox_id: &str) -> BoxFuture<'_, RuntimeResult<()>> {
        let id = sandbox_id.to_owned();
        Box::pin(async move { self.delete_all(&id).await.map_err(RuntimeError::from) })
    }

    fn adopt(
        &self,
        sandbox_id: &str,
        _state: serde_json::Value,
        events: EventSender,
    ) -> BoxFuture<'_, Adoption> {
        let id = sandbox_id.to_owned();
        Box::pin(async move { self.adopt_pod(&id, events).await })
    }

    fn present(&self) -> BoxFuture<'_, Option<std::collections::HashSet<String>>> {
        Box::pin(async {
            let params = ListParams::default().labels(&objects::managed_selector());
            match self.pods.list_metadata(&params).await {
                Ok(list) => Some(list.items.into_iter().filter_map(|p| p.metadata.name).collect()),
                Err(err) => {
                    tracing::warn!("cannot list the sandboxes' pods: {err}");
                    None
                }
            }
        })
    }

    fn found(&self) -> BoxFuture<'_, Vec<String>> {
        Box::pin(async { self.present().await.into_iter().flatten().collect() })
    }
}
