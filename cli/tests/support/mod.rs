//! End-to-end harness: one real `porter-sandbox serve` per test binary, on a free port with a
//! temporary data directory, killed with the test process.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::{
    os::unix::process::CommandExt,
    process::{Child, Command, Stdio},
    sync::OnceLock,
    time::{Duration, Instant},
};

use porter_sandbox::{Porter, Sandbox, types::StatusResponsePhase};

/// A running server.
pub struct TestServer {
    /// `http://127.0.0.1:PORT`.
    pub base_url: String,
    /// Its data directory.
    pub data_dir: std::path::PathBuf,
    /// The API key it accepts (clients from [`TestServer::client`] send it).
    pub api_key: String,
    /// What its ready file said.
    pub ready: ready::Ready,
    child: Child,
    _dir: tempfile::TempDir,
}

/// The API key every test server accepts, given through the environment (never argv).
pub const TEST_API_KEY: &str = "test-key-0123456789abcdef";

/// Starts `porter-sandbox serve` with `extra` arguments and waits for its ready file.
pub fn start_server(extra: &[&str]) -> TestServer {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    start_server_in(dir, data_dir, extra, &[])
}

/// Starts a server as an unprivileged user (uid 65534), which cannot run sandboxes.
pub fn start_unprivileged_server() -> TestServer {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    std::fs::create_dir(&data_dir).unwrap();
    Command::new("chown").args(["-R", "65534:65534"]).arg(dir.path()).status().unwrap();
    let mut command = Command::new("setpriv");
    command
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(env!("CARGO_BIN_EXE_porter-sandbox"));
    spawn(command, dir, data_dir, &[])
}

/// Starts a server on `data_dir` (kept alive by `dir`) with extra arguments and environment.
pub fn start_server_in(
    dir: tempfile::TempDir,
    data_dir: std::path::PathBuf,
    extra: &[&str],
    env: &[(&str, &str)],
) -> TestServer {
    let mut command = Command::new(env!("CARGO_BIN_EXE_porter-sandbox"));
    command.envs(env.iter().copied());
    spawn(command, dir, data_dir, extra)
}

/// Starts `porter-sandbox serve` with `extra` arguments and none added: the server's own
/// defaults (every other starter chooses `--offline-images host`).
pub fn start_server_with_defaults(extra: &[&str]) -> TestServer {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let command = Command::new(env!("CARGO_BIN_EXE_porter-sandbox"));
    spawn_as_is(command, dir, data_dir, extra)
}

fn spawn(
    command: Command,
    dir: tempfile::TempDir,
    data_dir: std::path::PathBuf,
    extra: &[&str],
) -> TestServer {
    let mut args = extra.to_vec();
    // Tests use registry images offline (on the `host` image) unless a test chooses otherwise.
    if !extra.contains(&"--offline-images") {
        args.extend(["--offline-images", "host"]);
    }
    spawn_as_is(command, dir, data_dir, &args)
}

fn spawn_as_is(
    mut command: Command,
    dir: tempfile::TempDir,
    data_dir: std::path::PathBuf,
    extra: &[&str],
) -> TestServer {
    // Beside the data directory, not in it: a restart on the same data directory reuses it.
    let ready_file = dir.path().join("ready.json");
    ready::clear(&ready_file);
    command
        .args(["serve", "--listen", "127.0.0.1:0", "--ephemeral", "--data-dir"])
        .arg(&data_dir)
        .arg("--ready-file")
        .arg(&ready_file)
        .args(extra)
        .env("RUST_LOG", "warn")
        .env("PORTER_SANDBOX_SERVER_API_KEYS", TEST_API_KEY)
        // Test servers never announce themselves to the user's clients.
        .env("PORTER_SANDBOX_DISCOVERY_FILE", "none")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    // SAFETY: prctl is async-signal-safe; the server must not outlive the tests.
    #[allow(unsafe_code)]
    unsafe {
        command.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
            Ok(())
        });
    }
    let mut child = command.spawn().expect("start porter-sandbox serve");
    let ready = ready::wait(&mut child, &ready_file);
    TestServer {
        base_url: ready.url.clone(),
        data_dir,
        api_key: TEST_API_KEY.to_owned(),
        ready,
        child,
        _dir: dir,
    }
}

impl TestServer {
    /// A client for this server.
    pub fn client(&self) -> Porter {
        Porter::builder().base_url(&self.base_url).api_key(&self.api_key).build().unwrap()
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.ready.pid
    }

    /// The server's resident memory in KiB (`VmRSS`).
    pub fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap()
    }

    /// A client for this server that sends no API key.
    pub fn anonymous_client(&self) -> Porter {
        Porter::builder().base_url(&self.base_url).build().unwrap()
    }

    /// The `Authorization` header value raw HTTP requests send.
    pub fn authorization(&self) -> String {
        format!("Bearer {}", self.api_key)
    }

    /// Stops the server with SIGTERM and waits for it.
    pub fn stop(mut self) {
        // SAFETY: signalling our own child.
        #[allow(unsafe_code)]
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGTERM);
        }
        let _ = self.child.wait();
    }

    /// Kills the server with SIGKILL (a crash), waits for it, and starts a new one on the same
    /// data directory.
    pub fn crash_and_restart(self) -> TestServer {
        self.crash_and_restart_with(&[])
    }

    /// [`TestServer::crash_and_restart`], the new server with `extra` arguments.
    pub fn crash_and_restart_as(mut self, extra: &[&str]) -> TestServer {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let TestServer { _dir, data_dir, .. } = self;
        start_server_in(_dir, data_dir, extra, &[])
    }

    /// [`TestServer::crash_and_restart`], the new server with `env` set.
    pub fn crash_and_restart_with(mut self, env: &[(&str, &str)]) -> TestServer {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let TestServer { _dir, data_dir, .. } = self;
        start_server_in(_dir, data_dir, &[], env)
    }
}

/// The server shared by the tests of one test binary.
pub fn shared() -> &'static TestServer {
    static SERVER: OnceLock<TestServer> = OnceLock::new();
    SERVER.get_or_init(|| {
        // The parent-death signal fires when the *thread* that spawned the server exits, and
        // test threads come and go: spawn it from a thread that lives as long as the process.
        let (sender, receiver) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            sender.send(start_server(&[])).unwrap();
            loop {
                std::thread::park();
            }
        });
        receiver.recv().unwrap()
    })
}

/// Polls until the sandbox leaves queued/creating (or `timeout` passes); returns its phase.
pub async fn wait_started(sandbox: &Sandbox, timeout: Duration) -> StatusResponsePhase {
    let deadline = Instant::now() + timeout;
    loop {
        let status = sandbox.refresh().await.unwrap();
        if !matches!(status.phase, StatusResponsePhase::Queued | StatusResponsePhase::Creating)
            || Instant::now() > deadline
        {
            return status.phase;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Polls until the sandbox is in a terminal phase (or `timeout` passes).
pub async fn wait_finished(sandbox: &Sandbox, timeout: Duration) -> StatusResponsePhase {
    let deadline = Instant::now() + timeout;
    loop {
        let status = sandbox.refresh().await.unwrap();
        if status.phase.is_terminal() || Instant::now() > deadline {
            return status.phase;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A name unique to this test run.
pub fn unique(prefix: &str) -> String {
    static COUNTER: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    format!("{prefix}-{}-{n}", std::process::id())
}

pub mod cli;
pub mod ready;
