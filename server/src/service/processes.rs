//! The processes extension: start, inspect, feed, signal and resize processes that outlive
//! their request (see [`crate::process`] for how they run).

use std::{
    path::{Path, PathBuf},
    process::Stdio,
    time::Duration,
};

use porter_sandbox::types::{
    ExecRequest, ProcessList, ProcessRequest, ProcessStatus, ServerExtensions, SignalRequest,
    StatusResponsePhase, TerminalSize,
};
use tokio::io::AsyncReadExt;

use super::error::{ServiceError, ServiceResult};
use super::{Service, names};
use crate::process::{self, SupervisorSpec, control};

/// Processes that may run at once in one sandbox.
pub const MAX_RUNNING: usize = 256;
/// Process records kept per sandbox; the oldest ended ones are removed beyond it.
pub const MAX_RECORDS: usize = 1024;
/// Largest stdin write of one request.
pub const MAX_STDIN_WRITE: usize = 1 << 20;
/// Longest long-poll of a status read.
pub const MAX_WAIT_SECONDS: f64 = 60.0;
/// How long a new supervisor may take to listen.
const SUPERVISOR_START: Duration = Duration::from_secs(10);

impl Service {
    /// `GET /v1/extensions`.
    #[must_use]
    pub fn extensions(&self) -> ServerExtensions {
        ServerExtensions {
            exec_options: true,
            processes: self.options.process_supervisor.is_some()
                && self.runtime.supports_processes(),
            leases: true,
            idempotency: true,
            process_output_retention: self.options.process_output_retention,
        }
    }

    /// The processes directory of a running sandbox (409 otherwise).
    fn processes_root(&self, id: &str) -> ServiceResult<PathBuf> {
        let row = self.sandbox_row(id)?;
        if row.phase != StatusResponsePhase::Running {
            return Err(ServiceError::conflict(format!(
                "sandbox {id} {}: processes need a running sandbox{}",
                row.phase.as_state(),
                if row.phase.is_terminal() { "" } else { "; wait until its phase is running" }
            )));
        }
        self.runtime.processes_dir(id).ok_or_else(unsupported)
    }

    /// The directory of process `exec_id` of sandbox `id` (404 when unknown).
    fn process_dir(&self, id: &str, exec_id: &str) -> ServiceResult<PathBuf> {
        self.sandbox_row(id)?;
        let valid = !exec_id.is_empty()
            && exec_id.len() <= 64
            && exec_id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        let dir = self.runtime.processes_dir(id).map(|root| root.join(exec_id));
        match dir {
            Some(dir) if valid && dir.join(process::SPEC_FILE).is_file() => Ok(dir),
            _ => Err(ServiceError::not_found(format!(
                "process {exec_id} does not exist in sandbox {id} (processes end with their \
                 sandbox; list them with GET /v1/sandbox/{id}/processes)"
            ))),
        }
    }

    /// `POST /v1/sandbox/{id}/processes`.
    pub async fn start_process(
        &self,
        id: &str,
        request: ProcessRequest,
    ) -> ServiceResult<ProcessStatus> {
        let supervisor = self.options.process_supervisor.clone().ok_or_else(unsupported)?;
        let root = self.processes_root(id)?;
        let ProcessRequest { command, env, workdir, stdin, pty, timeout_seconds } = request;
        super::exec_options::check_command(&command)?;
        if let Some(size) = pty {
            check_size(size)?;
        }
        let row = self.sandbox_row(id)?;
        let sandbox_env: Vec<(String, String)> =
            row.spec.env.iter().flatten().map(|(k, v)| (k.clone(), v.clone())).collect();
        let exec =
            ExecRequest { command: command.clone(), timeout_seconds, workdir, env, stdin: None };
        let spec = super::exec_options::exec_spec(exec, sandbox_env)?;
        std::fs::create_dir_all(&root).map_err(|e| {
            ServiceError::internal(format!("cannot create the processes directory: {e}"))
        })?;
        prune(&root)?;
        let exec_id = names::new_id("ex");
        let dir = root.join(&exec_id);
        std::fs::create_dir(&dir).map_err(|e| {
            ServiceError::internal(format!("cannot create the process directory: {e}"))
        })?;
        let started = self.launch_process(
            id,
            &exec_id,
            &dir,
            &supervisor,
            SupervisorLaunch {
                command,
                spec: &spec,
                stdin: stdin.unwrap_or(false),
                pty,
                timeout_seconds,
            },
        );
        match started.await {
            Ok(status) => Ok(status),
            Err(err) => {
                let _ = std::fs::remove_dir_all(&dir);
                Err(err)
            }
        }
    }

    async fn launch_process(
        &self,
        id: &str,
        exec_id: &str,
        dir: &Path,
        supervisor: &Path,
        launch: SupervisorLaunch<'_>,
    ) -> ServiceResult<ProcessStatus> {
        let command =
            self.runtime.process_command(id, launch.spec, launch.pty, dir).map_err(|e| {
                ServiceError::conflict(format!("cannot start a process in sandbox {id}: {e}"))
            })?;
        let spec = SupervisorSpec {
            exec_id: exec_id.to_owned(),
            sandbox_id: id.to_owned(),
            command: launch.command,
            engine_argv: command.argv,
            cgroup_suffix: command.cgroup_suffix,
            signal_engine: command.signal_engine,
            stdin: launch.stdin,
            pty: launch.pty,
            timeout_seconds: launch.timeout_seconds,
            retention: self.options.process_output_retention,
            started_at: crate::time::format_micros(crate::time::now_micros()),
        };
        let text = serde_json::to_vec(&spec).map_err(|e| ServiceError::internal(e.to_string()))?;
        std::fs::write(dir.join(process::SPEC_FILE), text)
            .map_err(|e| ServiceError::internal(format!("cannot write the process spec: {e}")))?;
        let mut child = tokio::process::Command::new(supervisor)
            .arg(process::SUPERVISOR_ARG)
            .arg(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| {
                ServiceError::internal(format!("cannot start the process supervisor: {e}"))
            })?;
        let mut stderr = child.stderr.take();
        // Reaped here while this server runs; after a restart, by init.
        tokio::spawn(async move {
            let mut text = String::new();
            if let Some(err) = stderr.as_mut() {
                let _ = err.read_to_string(&mut text).await;
            }
            let _ = child.wait().await;
            if !text.trim().is_empty() {
                tracing::warn!("process supervisor: {}", text.trim());
            }
        });
        let socket = dir.join(process::CONTROL_SOCKET);
        let deadline = tokio::time::Instant::now() + SUPERVISOR_START;
        while !socket.exists() && process::read_final(dir).is_none() {
            if tokio::time::Instant::now() > deadline {
                return Err(ServiceError::internal("the process supervisor did not start in time"));
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        process::status(dir)
            .await
            .ok_or_else(|| ServiceError::internal("the process has no record after its start"))
    }

    /// `GET /v1/sandbox/{id}/processes`: newest first.
    pub async fn list_processes(&self, id: &str) -> ServiceResult<ProcessList> {
        self.sandbox_row(id)?;
        let mut processes = Vec::new();
        if let Some(root) = self.runtime.processes_dir(id) {
            for dir in process::dirs(&root) {
                if let Some(status) = process::status(&dir).await {
                    processes.push(status);
                }
            }
        }
        Ok(ProcessList { processes })
    }

    /// `GET /v1/sandbox/{id}/processes/{exec_id}`, waiting up to `wait_seconds` for its end.
    pub async fn process_status(
        &self,
        id: &str,
        exec_id: &str,
        wait_seconds: Option<f64>,
    ) -> ServiceResult<ProcessStatus> {
        let dir = self.process_dir(id, exec_id)?;
        if let Some(wait) = wait_seconds {
            if !(wait.is_finite() && (0.0..=MAX_WAIT_SECONDS).contains(&wait)) {
                return Err(ServiceError::invalid(format!(
                    "wait_seconds is {wait}: give a number of seconds from 0 to {MAX_WAIT_SECONDS}"
                )));
            }
            if process::read_final(&dir).is_none() {
                if let Some(mut updates) = control::subscribe(&dir).await {
                    let ended = async {
                        let mut buf = [0u8; 8];
                        while updates.read_exact(&mut buf).await.is_ok() {}
                    };
                    let _ = tokio::time::timeout(Duration::from_secs_f64(wait), ended).await;
                }
            }
        }
        process::status(&dir).await.ok_or_else(|| gone(id, exec_id))
    }

    /// The directory to read the output of `exec_id` from.
    pub fn process_output_dir(&self, id: &str, exec_id: &str) -> ServiceResult<PathBuf> {
        self.process_dir(id, exec_id)
    }

    /// `POST …/stdin`.
    pub async fn write_process_stdin(
        &self,
        id: &str,
        exec_id: &str,
        data: &[u8],
    ) -> ServiceResult<()> {
        if data.len() > MAX_STDIN_WRITE {
            return Err(ServiceError::new(
                super::ErrorKind::TooLarge,
                format!("a stdin write holds at most {MAX_STDIN_WRITE} bytes: split the data"),
            ));
        }
        let dir = self.process_dir(id, exec_id)?;
        self.control(&dir, id, exec_id, control::Op::Stdin, data).await.map(drop)
    }

    /// `POST …/stdin/close`: idempotent.
    pub async fn close_process_stdin(&self, id: &str, exec_id: &str) -> ServiceResult<()> {
        let dir = self.process_dir(id, exec_id)?;
        match self.control(&dir, id, exec_id, control::Op::CloseStdin, &[]).await {
            Err(err) if err.kind == super::ErrorKind::Conflict => Ok(()),
            other => other.map(drop),
        }
    }

    /// `POST …/signal`.
    pub async fn signal_process(
        &self,
        id: &str,
        exec_id: &str,
        request: SignalRequest,
    ) -> ServiceResult<()> {
        let number = process::signals::parse(&request.signal).map_err(ServiceError::invalid)?;
        let dir = self.process_dir(id, exec_id)?;
        match control::call(&dir, control::Op::Signal, &number.to_le_bytes()).await {
            // The signal ended the process, whose supervisor then stopped before answering.
            Ok(_) | Err(control::CallError::Unanswered) => Ok(()),
            Err(err) => Err(control_error(err, id, exec_id)),
        }
    }

    /// `POST …/resize`.
    pub async fn resize_process(
        &self,
        id: &str,
        exec_id: &str,
        size: TerminalSize,
    ) -> ServiceResult<()> {
        check_size(size)?;
        let dir = self.process_dir(id, exec_id)?;
        let mut payload = size.cols.to_le_bytes().to_vec();
        payload.extend_from_slice(&size.rows.to_le_bytes());
        self.control(&dir, id, exec_id, control::Op::Resize, &payload).await.map(drop)
    }

    async fn control(
        &self,
        dir: &Path,
        id: &str,
        exec_id: &str,
        op: control::Op,
        payload: &[u8],
    ) -> ServiceResult<Vec<u8>> {
        control::call(dir, op, payload).await.map_err(|err| control_error(err, id, exec_id))
    }
}

fn control_error(err: control::CallError, id: &str, exec_id: &str) -> ServiceError {
    match err {
        control::CallError::Gone | control::CallError::Unanswered => {
            ServiceError::conflict(format!(
                "process {exec_id} in sandbox {id} has ended: read its status and output instead"
            ))
        }
        control::CallError::Refused(text) => ServiceError::conflict(text),
    }
}

/// What [`Service::launch_process`] starts.
struct SupervisorLaunch<'a> {
    command: Vec<String>,
    spec: &'a crate::runtime::ExecSpec,
    stdin: bool,
    pty: Option<TerminalSize>,
    timeout_seconds: Option<f64>,
}

fn check_size(size: TerminalSize) -> ServiceResult<()> {
    if (1..=1000).contains(&size.cols) && (1..=1000).contains(&size.rows) {
        Ok(())
    } else {
        Err(ServiceError::invalid(format!(
            "terminal size {}x{} is out of range: cols and rows must each be from 1 to 1000",
            size.cols, size.rows
        )))
    }
}

fn unsupported() -> ServiceError {
    ServiceError::new(
        super::ErrorKind::NotImplemented,
        "this server cannot run processes: its runtime has no process supervisor; one-shot exec \
         works on every runtime",
    )
}

fn gone(id: &str, exec_id: &str) -> ServiceError {
    ServiceError::not_found(format!("process {exec_id} of sandbox {id} is gone"))
}

/// Refuses a new process when [`MAX_RUNNING`] run, and removes the oldest ended records beyond
/// [`MAX_RECORDS`].
fn prune(root: &Path) -> ServiceResult<()> {
    let dirs = process::dirs(root);
    let running = dirs.iter().filter(|d| process::read_final(d).is_none()).count();
    if running >= MAX_RUNNING {
        return Err(ServiceError::conflict(format!(
            "{running} processes are running in this sandbox, the most allowed: wait for one \
                 to end or kill one"
        )));
    }
    let mut ended: Vec<&PathBuf> =
        dirs.iter().filter(|d| process::read_final(d).is_some()).collect();
    while running + ended.len() >= MAX_RECORDS {
        let Some(oldest) = ended.pop() else { break };
        let _ = std::fs::remove_dir_all(oldest);
    }
    Ok(())
}
