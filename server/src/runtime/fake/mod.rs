//! An in-memory [`Runtime`] for tests: nothing runs, so it needs no root, no crun and no
//! kernel features, and a whole lifecycle takes milliseconds.
//!
//! Sandboxes are records in a [`FakeRuntime`]'s memory. How each workload behaves is scripted
//! by its argv ([`FakeRuntime::script_workload`]: fail to start, print lines, exit with a code
//! after a delay), or driven from the test ([`FakeRuntime::exit`], [`FakeRuntime::print`]).
//! Exec answers from scripts keyed by the exact argv ([`FakeRuntime::script_exec`]), else from a
//! few builtins (`echo`, `true`, `false`). A snapshot writes a small directory naming the
//! sandbox and the layers it ran on, so a chain of snapshots can be checked.
//!
//! A server restart: [`FakeRuntime::restarted`] gives a new runtime over the same sandboxes
//! (what a previous server process left on the "host"). Give it to a second
//! [`crate::service::Service`] over the same data directory: it adopts the running sandboxes,
//! reports the ones that exited meanwhile, and finds those it never heard of.
//!
//! Everything the runtime was asked is recorded ([`FakeRuntime::launches`],
//! [`FakeRuntime::execs`], [`FakeRuntime::kills`]) for tests to check.

use crate::runtime::RuntimeError;
mod script;

use std::{
    collections::HashMap,
    net::{Ipv4Addr, SocketAddr},
    path::PathBuf,
    sync::{Arc, Mutex, MutexGuard, PoisonError},
    time::Duration,
};

use tokio::time::Instant;

pub use self::script::{ExecScript, Workload};
use super::{
    Adoption, BoxFuture, EventSender, ExecOutput, ExecSpec, LaunchSpec, NetworkMode, OutputStream,
    Runtime, RuntimeEvent, Started, TIMEOUT_EXIT_CODE, Usage,
};
use crate::time::now_micros;

/// A [`Runtime`] keeping its sandboxes in memory (see the module docs). Cloning it (or
/// [`FakeRuntime::restarted`]) shares the sandboxes and scripts.
#[derive(Debug, Clone, Default)]
pub struct FakeRuntime {
    host: Arc<Mutex<Host>>,
}

/// The state of a fake sandbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FakeState {
    /// Its workload runs.
    Running,
    /// Its workload ended with this code; the sandbox stays until killed.
    Exited(i32),
}

/// Everything the fake "host" holds.
#[derive(Debug, Default)]
struct Host {
    sandboxes: HashMap<String, Sandbox>,
    workloads: Vec<(Vec<String>, Workload)>,
    execs: HashMap<Vec<String>, ExecScript>,
    launches: Vec<LaunchSpec>,
    exec_log: Vec<(String, ExecSpec)>,
    kills: Vec<String>,
    captures: Vec<String>,
    unavailable: Option<String>,
    snapshot_failure: Option<String>,
    snapshot_time: Duration,
    kill_failures: usize,
    kill_time: Duration,
    next_port: u16,
    /// Bumped whenever a sandbox gets a new watcher, so an old exit timer stands down.
    generation: u64,
}

#[derive(Debug)]
struct Sandbox {
    spec: LaunchSpec,
    state: FakeState,
    /// When the workload ends by itself, and with which code.
    exit_at: Option<(Instant, i32)>,
    /// Where its events go: the runtime that started or adopted it last.
    events: Option<EventSender>,
    generation: u64,
    usage: Usage,
}

impl FakeRuntime {
    /// A runtime with no sandboxes and no scripts.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// A new runtime over the same sandboxes and scripts, as a server started after this one
    /// would find them: give it to the next [`crate::service::Service`].
    #[must_use]
    pub fn restarted(&self) -> Self {
        self.clone()
    }

    fn host(&self) -> MutexGuard<'_, Host> {
        self.host.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Workloads whose argv starts with `prefix` behave as `workload` (the latest matching
    /// script wins; an empty prefix matches every workload).
    pub fn script_workload(&self, prefix: &[&str], workload: Workload) {
        let prefix = prefix.iter().map(|s| (*s).to_owned()).collect();
        self.host().workloads.push((prefix, workload));
    }

    /// Exec of exactly `argv` answers with `script`.
    pub fn script_exec(&self, argv: &[&str], script: ExecScript) {
        let argv = argv.iter().map(|s| (*s).to_owned()).collect();
        self.host().execs.insert(argv, script);
    }

    /// [`Runtime::check`] fails with `reason` (`None`: the runtime is usable again).
    pub fn set_unavailable(&self, reason: Option<&str>) {
        self.host().unavailable = reason.map(str::to_owned);
    }

    /// The next snapshot fails with `message`.
    pub fn fail_next_snapshot(&self, message: &str) {
        self.host().snapshot_failure = Some(message.to_owned());
    }

    /// Every snapshot takes `time` before it is written (a capture still pending meanwhile).
    pub fn set_snapshot_time(&self, time: Duration) {
        self.host().snapshot_time = time;
    }

    /// Every kill takes `time` before the sandbox is gone (a workload slow to stop).
    pub fn set_kill_time(&self, time: Duration) {
        self.host().kill_time = time;
    }

    /// The next `count` kills fail (a teardown the host refuses for a moment).
    pub fn fail_kills(&self, count: usize) {
        self.host().kill_failures = count;
    }

    /// The resource counters [`Runtime::usage`] reports for a running sandbox.
    pub fn set_usage(&self, sandbox_id: &str, usage: Usage) {
        if let Some(sandbox) = self.host().sandboxes.get_mut(sandbox_id) {
            sandbox.usage = usage;
        }
    }

    /// Ends the workload of a running sandbox with `code` now; false when it does not run.
    pub async fn exit(&self, sandbox_id: &str, code: i32) -> bool {
        let events = {
            let mut host = self.host();
            let Some(sandbox) = host.sandboxes.get_mut(sandbox_id) else { return false };
            if sandbox.state != FakeState::Running {
                return false;
            }
            sandbox.state = FakeState::Exited(code);
            sandbox.events.take()
        };
        if let Some(events) = events {
            let exited =
                RuntimeEvent::Exited { sandbox_id: sandbox_id.to_owned(), exit_code: code };
            let _ = events.send(exited).await;
        }
        true
    }

    /// The workload of a running sandbox prints `line`; false when it does not run.
    pub async fn print(&self, sandbox_id: &str, stream: OutputStream, line: &str) -> bool {
        let events = {
            let host = self.host();
            match host.sandboxes.get(sandbox_id) {
                Some(sandbox) if sandbox.state == FakeState::Running => sandbox.events.clone(),
                _ => return false,
            }
        };
        if let Some(events) = events {
            let line = RuntimeEvent::Line {
                sandbox_id: sandbox_id.to_owned(),
                stream,
                line: line.to_owned(),
                at: now_micros(),
            };
            let _ = events.send(line).await;
        }
        true
    }

    /// Puts a sandbox on the host that no server started (as one left behind whose record was
    /// lost): [`Runtime::found`] reports it.
    pub fn plant(&self, sandbox_id: &str) {
        let spec = LaunchSpec {
            sandbox_id: sandbox_id.to_owned(),
            rootfs: PathBuf::new(),
            layers: Vec::new(),
            image_mounts: Vec::new(),
            argv: Vec::new(),
            env: Vec::new(),
            cwd: "/".to_owned(),
            user: (0, 0),
            mounts: Vec::new(),
            network: NetworkMode::None,
            limits: super::Limits::default(),
            workload: None,
        };
        let sandbox = Sandbox {
            spec,
            state: FakeState::Running,
            exit_at: None,
            events: None,
            generation: 0,
            usage: Usage::default(),
        };
        self.host().sandboxes.insert(sandbox_id.to_owned(), sandbox);
    }

    /// The state of a sandbox on the host (`None`: not there, e.g. killed).
    #[must_use]
    pub fn state(&self, sandbox_id: &str) -> Option<FakeState> {
        self.host().sandboxes.get(sandbox_id).map(|s| s.state)
    }

    /// The ids of the sandboxes on the host, sorted.
    #[must_use]
    pub fn sandbox_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self.host().sandboxes.keys().cloned().collect();
        ids.sort();
        ids
    }

    /// Every launch spec the runtime was given, in order (failed starts included).
    #[must_use]
    pub fn launches(&self) -> Vec<LaunchSpec> {
        self.host().launches.clone()
    }

    /// Every exec the runtime was asked to run: sandbox id and spec, in order.
    #[must_use]
    pub fn execs(&self) -> Vec<(String, ExecSpec)> {
        self.host().exec_log.clone()
    }

    /// Every sandbox id a snapshot capture was started for, in order.
    #[must_use]
    pub fn captures(&self) -> Vec<String> {
        self.host().captures.clone()
    }

    /// Every sandbox id a kill was asked for, in order (repeats and failed kills included).
    #[must_use]
    pub fn kills(&self) -> Vec<String> {
        self.host().kills.clone()
    }

    /// The behaviour scripted for a workload running `argv`.
    fn workload(&self, argv: &[String]) -> Workload {
        Self::workload_in(&self.host(), argv)
    }

    fn workload_in(host: &Host, argv: &[String]) -> Workload {
        let mut scripts = host.workloads.iter().rev();
        scripts
            .find(|(prefix, _)| argv.starts_with(prefix))
            .map(|(_, w)| w.clone())
            .unwrap_or_default()
    }

    /// Watches sandbox `id` from now on: its events go to `events`, and a scheduled exit is
    /// armed on the current tokio runtime.
    fn watch(&self, host: &mut Host, id: &str, events: EventSender) {
        host.generation += 1;
        let generation = host.generation;
        let Some(sandbox) = host.sandboxes.get_mut(id) else { return };
        sandbox.events = Some(events);
        sandbox.generation = generation;
        let Some((at, code)) = sandbox.exit_at else { return };
        let (runtime, id) = (self.clone(), id.to_owned());
        tokio::spawn(async move {
            tokio::time::sleep_until(at).await;
            let current = runtime.host().sandboxes.get(&id).map(|s| s.generation);
            if current == Some(generation) {
                runtime.exit(&id, code).await;
            }
        });
    }

    async fn start_sandbox(
        &self,
        spec: LaunchSpec,
        events: EventSender,
    ) -> Result<Started, RuntimeError> {
        let id = spec.sandbox_id.clone();
        let delay = self.workload(&spec.argv).start_delay;
        tokio::time::sleep(delay).await;
        let (output, port) = {
            let mut host = self.host();
            host.launches.push(spec.clone());
            if let Some(reason) = &host.unavailable {
                return Err(RuntimeError::Unavailable(reason.clone()));
            }
            if let Some(layer) = spec.layers.iter().find(|l| !l.is_dir()) {
                return Err(RuntimeError::Invalid(format!(
                    "the snapshot layer {} is missing",
                    layer.display()
                )));
            }
            let workload = Self::workload_in(&host, &spec.argv);
            if let Some(reason) = workload.start_failure {
                return Err(RuntimeError::other(reason));
            }
            let port = match &spec.network {
                NetworkMode::Nat(nat) if nat.port.is_some() => {
                    host.next_port = host.next_port.max(40_000) + 1;
                    Some(host.next_port)
                }
                _ => None,
            };
            let exit_at = workload.exit.map(|(code, after)| (Instant::now() + after, code));
            let sandbox = Sandbox {
                spec,
                state: FakeState::Running,
                exit_at,
                events: Some(events.clone()),
                generation: 0,
                usage: Usage::default(),
            };
            host.sandboxes.insert(id.clone(), sandbox);
            (workload.output, port)
        };
        // Queued before the exit can be armed: what a workload printed always arrives before
        // its end, as with a real one.
        for (stream, line) in output {
            let at = now_micros();
            let line = RuntimeEvent::Line { sandbox_id: id.clone(), stream, line, at };
            let _ = events.send(line).await;
        }
        self.watch(&mut self.host(), &id, events);
        let state = serde_json::json!({ "fake": true });
        Ok(Started {
            state,
            internal_address: port.map(|p| SocketAddr::from((Ipv4Addr::LOCALHOST, p))),
        })
    }

    async fn exec_in(&self, sandbox_id: &str, spec: ExecSpec) -> Result<ExecOutput, RuntimeError> {
        let script = {
            let mut host = self.host();
            host.exec_log.push((sandbox_id.to_owned(), spec.clone()));
            match host.sandboxes.get(sandbox_id) {
                Some(sandbox) if sandbox.state == FakeState::Running => {}
                Some(_) => {
                    return Err(RuntimeError::NotRunning(format!(
                        "sandbox {sandbox_id} has exited"
                    )));
                }
                None => {
                    return Err(RuntimeError::NotFound(format!(
                        "sandbox {sandbox_id} is not running"
                    )));
                }
            }
            host.execs.get(&spec.argv).cloned().unwrap_or_else(|| script::builtin(&spec.argv))
        };
        if let Some(reason) = script.failure {
            return Err(RuntimeError::other(reason));
        }
        match spec.timeout {
            Some(deadline) if deadline < script.takes => {
                tokio::time::sleep(deadline).await;
                Ok(ExecOutput {
                    exit_code: TIMEOUT_EXIT_CODE,
                    timed_out: true,
                    ..ExecScript::default().output()
                })
            }
            _ => {
                tokio::time::sleep(script.takes).await;
                Ok(script.output())
            }
        }
    }

    fn capture(&self, sandbox_id: &str, dest: &std::path::Path) -> Result<u64, RuntimeError> {
        let record = {
            let mut host = self.host();
            if let Some(reason) = host.snapshot_failure.take() {
                return Err(RuntimeError::other(reason));
            }
            match host.sandboxes.get(sandbox_id) {
                Some(sandbox) if sandbox.state == FakeState::Running => {
                    let layers: Vec<String> =
                        sandbox.spec.layers.iter().map(|l| l.display().to_string()).collect();
                    serde_json::json!({ "sandbox": sandbox_id, "layers": layers }).to_string()
                }
                Some(_) => {
                    return Err(RuntimeError::NotRunning(format!(
                        "sandbox {sandbox_id} has exited"
                    )));
                }
                None => {
                    return Err(RuntimeError::NotFound(format!(
                        "sandbox {sandbox_id} is not running"
                    )));
                }
            }
        };
        if dest.exists() {
            return Err(RuntimeError::other(format!("{} already exists", dest.display())));
        }
        // Written aside and renamed: the layer appears at `dest` only once complete.
        let staging = dest.with_extension("partial");
        let written = std::fs::create_dir_all(&staging)
            .and_then(|()| std::fs::write(staging.join("fake-layer.json"), &record))
            .and_then(|()| std::fs::rename(&staging, dest));
        written.map_err(|e| format!("cannot write the snapshot {}: {e}", dest.display()))?;
        Ok(record.len() as u64)
    }
}

impl Runtime for FakeRuntime {
    fn name(&self) -> String {
        "fake".to_owned()
    }

    fn check(&self) -> Result<(), RuntimeError> {
        self.host().unavailable.clone().map_or(Ok(()), |r| Err(RuntimeError::Unavailable(r)))
    }

    fn start(
        &self,
        spec: LaunchSpec,
        events: EventSender,
    ) -> BoxFuture<'_, Result<Started, RuntimeError>> {
        Box::pin(self.start_sandbox(spec, events))
    }

    fn exec_with(
        &self,
        sandbox_id: &str,
        spec: ExecSpec,
    ) -> BoxFuture<'_, Result<ExecOutput, RuntimeError>> {
        let id = sandbox_id.to_owned();
        Box::pin(async move { self.exec_in(&id, spec).await })
    }

    fn usage(&self, sandbox_id: &str) -> Option<Usage> {
        let host = self.host();
        let sandbox = host.sandboxes.get(sandbox_id)?;
        (sandbox.state == FakeState::Running).then_some(sandbox.usage)
    }

    fn snapshot(
        &self,
        sandbox_id: &str,
        dest: PathBuf,
    ) -> BoxFuture<'_, Result<u64, RuntimeError>> {
        let id = sandbox_id.to_owned();
        Box::pin(async move {
            let time = {
                let mut host = self.host();
                host.captures.push(id.clone());
                host.snapshot_time
            };
            tokio::time::sleep(time).await;
            self.capture(&id, &dest)
        })
    }

    fn kill(&self, sandbox_id: &str) -> BoxFuture<'_, Result<(), RuntimeError>> {
        let id = sandbox_id.to_owned();
        Box::pin(async move {
            let time = self.host().kill_time;
            tokio::time::sleep(time).await;
            let mut host = self.host();
            host.kills.push(id.clone());
            if host.kill_failures > 0 {
                host.kill_failures -= 1;
                return Err(RuntimeError::other(format!("the fake host refused to stop {id}")));
            }
            host.sandboxes.remove(&id);
            Ok(())
        })
    }

    fn adopt(
        &self,
        sandbox_id: &str,
        _state: serde_json::Value,
        events: EventSender,
    ) -> BoxFuture<'_, Adoption> {
        let id = sandbox_id.to_owned();
        Box::pin(async move {
            let mut host = self.host();
            let Some(sandbox) = host.sandboxes.get_mut(&id) else { return Adoption::Lost };
            // An exit that fell due while no server watched has happened.
            if let (FakeState::Running, Some((at, code))) = (sandbox.state, sandbox.exit_at) {
                if at <= Instant::now() {
                    sandbox.state = FakeState::Exited(code);
                }
            }
            match sandbox.state {
                FakeState::Exited(code) => Adoption::Exited(code),
                FakeState::Running => {
                    self.watch(&mut host, &id, events);
                    Adoption::Running
                }
            }
        })
    }

    fn found(&self) -> BoxFuture<'_, Vec<String>> {
        Box::pin(async move { self.sandbox_ids() })
    }
}

#[cfg(test)]
mod tests;
