//! `serve --runtime kubernetes` on a real node (kubelet + containerd + runc, pods really run):
//! a workload that answers commands (exec with env, working directory, standard input, exit
//! codes, deadlines), its output and exit code, TTL and terminate, processes (standard input,
//! offsets, signals, deadlines, terminals, a server crash) — with the figures printed:
//! create → running, the exec round trip and a process's start.
//!
//! Run through `scripts/k8s/with-cluster.sh --real-node cargo test -p porter-sandbox-cli --test
//! kubernetes_node -- --nocapture` (the figures are printed on stderr). Without a real node the
//! tests say so and pass, unless `PORTER_REQUIRE_K8S_NODE=1`, where that is a failure.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr)]

#[path = "support/kube.rs"]
mod kube_support;
mod support;

use std::{
    sync::OnceLock,
    time::{Duration, Instant},
};

use futures_util::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use kube::Api;
use porter_sandbox::{
    ExecOptions, Porter, Process, ProcessSpec, Sandbox,
    types::{
        OutputStreamName, ProcessState, SandboxResourcesSpec, SandboxSpec, StatusResponsePhase,
        StatusResponseTerminationReason,
    },
};
use support::{TestServer, start_server, unique};

/// A pod's first start includes the node's setup of its network and the agent's install.
const START: Duration = Duration::from_secs(90);

/// The cluster of `scripts/k8s/cluster.sh` with the real node of `scripts/k8s/node.sh`.
struct Node {
    server_kubeconfig: String,
    admin_kubeconfig: String,
    namespace: String,
    node_name: String,
}

fn node() -> Option<Node> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let found = (|| {
        Some(Node {
            server_kubeconfig: var("KUBECONFIG_SERVER")?,
            admin_kubeconfig: var("KUBECONFIG_ADMIN")?,
            namespace: var("PORTER_K8S_NAMESPACE")?,
            node_name: var("PORTER_K8S_REAL_NODE")?,
        })
    })();
    match &found {
        Some(_) => load_agent_image(),
        None => {
            assert!(
                std::env::var("PORTER_REQUIRE_K8S_NODE").as_deref() != Ok("1"),
                "PORTER_REQUIRE_K8S_NODE=1 but no real node: run through \
                 scripts/k8s/with-cluster.sh --real-node"
            );
            eprintln!(
                "no Kubernetes cluster with a real node (run through scripts/k8s/with-cluster.sh \
                 --real-node): skipped"
            );
        }
    }
    found
}

/// Imports `porter-sandbox:test`, holding the binary under test, into the node (once per run):
/// the pods' init containers install the exec agent of this very build.
fn load_agent_image() {
    static LOADED: OnceLock<()> = OnceLock::new();
    LOADED.get_or_init(|| {
        let dir = std::env::var("PORTER_K8S_CLUSTER_DIR").expect("PORTER_K8S_CLUSTER_DIR");
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/k8s/node.sh");
        let started = Instant::now();
        let status = std::process::Command::new(script)
            .args(["load-agent", &dir, env!("CARGO_BIN_EXE_porter-sandbox")])
            .status()
            .unwrap();
        assert!(status.success(), "node.sh load-agent failed");
        eprintln!("agent image imported in {:.1} s", started.elapsed().as_secs_f64());
    });
}

impl Node {
    fn start(&self) -> TestServer {
        let args = kube_support::server_args(
            &self.server_kubeconfig,
            &self.namespace,
            "porter-sandbox:test",
        );
        start_server(&args.iter().map(String::as_str).collect::<Vec<_>>())
    }

    async fn pods(&self) -> Api<Pod> {
        kube_support::api(&self.admin_kubeconfig, &self.namespace).await
    }
}

/// A busybox sandbox running `command`, with small requests: the node has the machine's few
/// cores, and the server's default (a whole core each) would leave the pods of one test
/// unschedulable.
fn busybox(tag: &str, command: &[&str]) -> SandboxSpec {
    let resources = SandboxResourcesSpec { cpu: Some("100m".into()), memory: Some("128Mi".into()) };
    SandboxSpec::new("busybox:1.36")
        .command(command.iter().copied())
        .tag("suite", tag)
        .resources(resources)
}

fn idle(tag: &str) -> SandboxSpec {
    busybox(tag, &["sleep", "3600"])
}

/// Creates a sandbox and waits until it is running; returns it with the time that took.
async fn running(porter: &Porter, spec: SandboxSpec) -> (Sandbox, Duration) {
    let started = Instant::now();
    let sandbox = porter.sandboxes().create(spec).await.unwrap();
    let status = sandbox.wait_until_running(Some(START)).await.unwrap();
    assert_eq!(status.phase, StatusResponsePhase::Running);
    (sandbox, started.elapsed())
}

/// The `q`-quantile of `samples` (sorted in place), in milliseconds.
fn quantile_ms(samples: &mut [Duration], q: f64) -> f64 {
    samples.sort();
    let index = ((samples.len() - 1) as f64 * q).round() as usize;
    samples[index].as_secs_f64() * 1000.0
}

async fn eventually<F, Fut>(within: Duration, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + within;
    while !check().await {
        assert!(Instant::now() < deadline, "{what}: not within {within:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pod_on_the_node_runs_commands_through_its_agent() {
    let Some(node) = node() else { return };
    let server = node.start();
    let porter = server.client();
    let pods = node.pods().await;
    let tag = unique("node-exec");

    // Create → running, a few times: the first start also sets up the node's caches.
    let mut starts = Vec::new();
    let mut sandboxes = Vec::new();
    for _ in 0..5 {
        let (sandbox, took) = running(&porter, idle(&tag)).await;
        starts.push(took);
        sandboxes.push(sandbox);
    }
    eprintln!(
        "create → running: first {:.0} ms, p50 {:.0} ms, max {:.0} ms (5 sandboxes)",
        starts[0].as_secs_f64() * 1000.0,
        quantile_ms(&mut starts, 0.5),
        quantile_ms(&mut starts, 1.0)
    );
    let sandbox = sandboxes.remove(0);
    let pod = pods.get(sandbox.id()).await.unwrap();
    let scheduled = pod.spec.as_ref().and_then(|s| s.node_name.clone());
    assert_eq!(scheduled.as_deref(), Some(node.node_name.as_str()), "runs on the real node");

    let hi = sandbox.exec(["echo", "hi"]).await.unwrap();
    assert_eq!((hi.stdout.as_str(), hi.stderr.as_str(), hi.exit_code), ("hi\n", "", 0));

    let options = ExecOptions::new().env("GREETING", "hello").workdir("/tmp").stdin("piped\n");
    let shell = ["sh", "-c", "echo $GREETING; pwd; cat; echo oops >&2"];
    let out = sandbox.exec_with(shell, options).await.unwrap();
    assert_eq!(out.stdout, "hello\n/tmp\npiped\n");
    assert_eq!(out.stderr, "oops\n");
    assert_eq!(out.exit_code, 0);

    let failed = sandbox.exec(["sh", "-c", "exit 3"]).await.unwrap();
    assert_eq!(failed.exit_code, 3);
    let missing = sandbox.exec(["/no/such/command"]).await;
    match missing {
        Ok(out) => assert_ne!(out.exit_code, 0, "a missing command cannot succeed"),
        Err(err) => assert!(err.message().contains("/no/such/command"), "{err}"),
    }

    let before = Instant::now();
    let options = ExecOptions::new().timeout(Duration::from_secs(1));
    let slow = sandbox.exec_with(["sh", "-c", "echo started; sleep 30"], options).await.unwrap();
    assert_eq!(slow.exit_code, 124);
    assert_eq!(slow.timed_out, Some(true));
    assert_eq!(slow.stdout, "started\n", "the output before the deadline is kept");
    assert!(before.elapsed() < Duration::from_secs(10), "the deadline was not kept");

    let mut round_trips = Vec::new();
    for i in 0..50 {
        let started = Instant::now();
        let out = sandbox.exec(["echo", &i.to_string()]).await.unwrap();
        round_trips.push(started.elapsed());
        assert_eq!(out.stdout, format!("{i}\n"));
    }
    eprintln!(
        "exec round trip: p50 {:.1} ms, p95 {:.1} ms (50 sequential `echo`)",
        quantile_ms(&mut round_trips, 0.5),
        quantile_ms(&mut round_trips, 0.95)
    );

    // The agent still answers after commands that failed and timed out; terminate ends the pod.
    let started = Instant::now();
    sandbox.terminate().await.unwrap();
    eprintln!("terminate: {:.0} ms", started.elapsed().as_secs_f64() * 1000.0);
    assert!(pods.get_opt(sandbox.id()).await.unwrap().is_none(), "the pod outlived terminate");
    assert_eq!(sandbox.refresh().await.unwrap().phase, StatusResponsePhase::Terminated);
    for other in sandboxes {
        other.terminate().await.unwrap();
    }
    server.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_workloads_output_and_exit_code_reach_the_api() {
    let Some(node) = node() else { return };
    let server = node.start();
    let porter = server.client();
    let tag = unique("node-exit");
    let script = "echo line-1; echo line-2 >&2; sleep 2; echo line-3; exit 3";
    let sandbox = porter.sandboxes().create(busybox(&tag, &["sh", "-c", script])).await.unwrap();
    let code = sandbox.wait(Some(START)).await.unwrap();
    assert_eq!(code, 3);
    let status = sandbox.refresh().await.unwrap();
    assert_eq!(status.phase, StatusResponsePhase::Failed);
    assert_eq!(status.exit_code, Some(3));
    let logs = sandbox.logs(Default::default()).await.unwrap();
    let lines: Vec<&str> = logs.iter().map(|l| l.line.as_str()).collect();
    for expected in ["line-1", "line-2", "line-3"] {
        assert!(lines.contains(&expected), "{expected} missing from the logs: {lines:?}");
    }
    let pos = |line: &str| lines.iter().position(|l| *l == line).unwrap();
    assert!(pos("line-1") < pos("line-3"), "the lines keep their order: {lines:?}");

    // A workload that succeeds ends its sandbox with 0.
    let done = porter.sandboxes().create(busybox(&tag, &["sh", "-c", "sleep 1"])).await.unwrap();
    assert_eq!(done.wait(Some(START)).await.unwrap(), 0);
    server.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ttl_deletes_the_pod_of_a_running_workload() {
    let Some(node) = node() else { return };
    let server = node.start();
    let porter = server.client();
    let pods = node.pods().await;
    let tag = unique("node-ttl");
    // The TTL counts from the create: long enough to see the workload run first.
    let (sandbox, _) = running(&porter, idle(&tag).ttl_seconds(15)).await;
    assert_eq!(sandbox.exec(["echo", "alive"]).await.unwrap().stdout, "alive\n");
    let id = sandbox.id().to_owned();
    eventually(Duration::from_secs(40), "the TTL ends the sandbox", || async {
        sandbox.refresh().await.is_ok_and(|s| s.phase == StatusResponsePhase::Terminated)
    })
    .await;
    let status = sandbox.refresh().await.unwrap();
    assert_eq!(status.termination_reason, Some(StatusResponseTerminationReason::TtlExpired));
    eventually(Duration::from_secs(30), "the TTL's pod is deleted", || async {
        pods.get_opt(&id).await.unwrap().is_none()
    })
    .await;
    server.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_come_from_the_pods_own_counters() {
    let Some(node) = node() else { return };
    let mut args =
        kube_support::server_args(&node.server_kubeconfig, &node.namespace, "porter-sandbox:test");
    args.extend(["--metrics-interval", "1"].map(str::to_owned));
    let server = start_server(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let porter = server.client();
    let api = porter.raw().sandboxes();
    let tag = unique("node-metrics");
    // A busy loop capped at a fifth of a core, and memory it holds.
    let spec = busybox(
        &tag,
        &["sh", "-c", "x=$(head -c 4000000 /dev/zero | tr '\\0' a); while :; do :; done"],
    )
    .resources(SandboxResourcesSpec { cpu: Some("200m".into()), memory: Some("128Mi".into()) });
    let (sandbox, _) = running(&porter, spec).await;
    let deadline = Instant::now() + Duration::from_secs(60);
    let summary = loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let summary = api.get_sandbox_metrics_summary(sandbox.id(), Some("5m")).await.unwrap();
        if (summary.has_data && summary.cpu_cores_p90 > 0.1) || Instant::now() > deadline {
            break summary;
        }
    };
    assert!(summary.has_data, "{summary:?}");
    assert!((summary.cpu_limit_cores - 0.2).abs() < 1e-9, "{summary:?}");
    assert_eq!(summary.mem_limit_bytes, 128 << 20);
    // Capped by the pod's limit: the counters are the container's, not the node's.
    assert!(summary.cpu_cores_p90 > 0.1 && summary.cpu_cores_p90 < 0.35, "{summary:?}");
    assert!(summary.mem_bytes_p50 > 1 << 20, "{summary:?}");
    assert!(summary.mem_bytes_p90 < 128 << 20, "{summary:?}");
    sandbox.terminate().await.unwrap();
    server.stop();
}

/// Every output byte of `process` from `offset` until its end, per stream.
async fn collect(process: &Process, offset: u64) -> (Vec<u8>, Vec<u8>) {
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let mut stream = process.output(offset);
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.unwrap();
        match chunk.stream {
            OutputStreamName::Stderr => err.extend_from_slice(&chunk.data),
            _ => out.extend_from_slice(&chunk.data),
        }
    }
    (out, err)
}

/// The command lines of the sandbox's processes, one a line.
async fn command_lines(sandbox: &Sandbox) -> String {
    let list = "for p in /proc/[0-9]*; do tr '\\0' ' ' < $p/cmdline; echo; done";
    sandbox.exec(["sh", "-c", list]).await.unwrap().stdout
}

/// How many supervisors and bridges of sandbox `id`'s processes run on this machine (the
/// supervisor's argument is its directory; a bridge's working directory is that directory).
fn host_processes_of(id: &str) -> usize {
    let needle = format!("/kubernetes/{id}/processes/");
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter(|entry| {
            let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
            let ours = cmdline
                .split(|&b| b == 0)
                .nth(1)
                .is_some_and(|arg| arg == b"__process-supervisor" || arg == b"__kube-process");
            let dir = std::fs::read_link(entry.path().join("cwd")).unwrap_or_default();
            ours && dir.to_string_lossy().contains(&needle)
        })
        .count()
}

/// The resident memory of the first process bridge found on this machine, in KiB: in all, and
/// its own (anonymous; the rest is the binary's pages, shared by every bridge).
async fn bridge_rss_kib() -> String {
    // The bridge starts once the process's supervisor runs: give it a moment to connect.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let found = std::fs::read_dir("/proc").unwrap().flatten().find_map(|entry| {
        let cmdline = std::fs::read(entry.path().join("cmdline")).ok()?;
        let bridge = cmdline.split(|&b| b == 0).nth(1) == Some(b"__kube-process");
        bridge.then(|| std::fs::read_to_string(entry.path().join("status")).ok()).flatten()
    });
    let field = |name: &str| {
        found
            .as_deref()
            .and_then(|status| status.lines().find_map(|l| l.strip_prefix(name)))
            .map_or(0, |v| v.trim().trim_end_matches("kB").trim().parse::<u64>().unwrap_or(0))
    };
    format!("{} KiB, {} KiB of it its own", field("VmRSS:"), field("RssAnon:"))
}

/// The same calls give the same results as on the local runtime (`processes_api.rs`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn processes_run_in_the_pod_with_stdin_signals_deadlines_and_offsets() {
    let Some(node) = node() else { return };
    let server = node.start();
    let porter = server.client();
    let extensions = porter.raw().sandboxes().server_extensions().await.unwrap();
    assert!(extensions.processes, "/v1/extensions lists processes on kubernetes");
    let (sandbox, _) = running(&porter, idle(&unique("node-proc"))).await;

    // Environment, directory, standard input written and closed, both streams, exit code.
    let started = Instant::now();
    let script = "echo $GREETING; pwd; cat; echo oops >&2; exit 3";
    let spec = ProcessSpec::new(["sh", "-c", script]).env("GREETING", "hello").workdir("/tmp");
    let process = sandbox.start(spec.stdin(true)).await.unwrap();
    eprintln!("process start: {:.0} ms", started.elapsed().as_secs_f64() * 1000.0);
    process.write_stdin("piped\n").await.unwrap();
    process.close_stdin().await.unwrap();
    let (out, err) = collect(&process, 0).await;
    assert_eq!(String::from_utf8_lossy(&out), "hello\n/tmp\npiped\n");
    assert_eq!(String::from_utf8_lossy(&err), "oops\n");
    let status = process.last_status().unwrap();
    assert_eq!((status.state, status.exit_code), (ProcessState::Exited, Some(3)));
    assert_eq!(status.output_end, 22);
    assert_eq!(process.wait(None).await.unwrap().exit_code, Some(3));
    eprintln!("process to its end: {:.0} ms", started.elapsed().as_secs_f64() * 1000.0);

    // Output read back from an offset, by another client, and the list.
    let many = sandbox.start(ProcessSpec::new(["seq", "1", "20000"])).await.unwrap();
    let (all, _) = collect(&many, 0).await;
    let expected: String = (1..=20000).map(|n| format!("{n}\n")).collect();
    assert_eq!(String::from_utf8_lossy(&all), expected);
    let again = server.client().sandboxes().handle(sandbox.id()).process(many.id()).await.unwrap();
    let (tail, _) = collect(&again, 50_000).await;
    assert_eq!(tail, all[50_000..]);
    let listed = sandbox.processes().await.unwrap();
    for id in [process.id(), many.id()] {
        assert!(listed.iter().any(|p| p.id() == id), "{id} is listed");
    }

    // A missing program fails as on the local runtime.
    let missing = sandbox.start(ProcessSpec::new(["/no/such/program"])).await.unwrap();
    let status = missing.wait(Some(Duration::from_secs(30))).await.unwrap();
    assert_eq!(status.exit_code, Some(127), "{status:?}");

    // Signals by name reach the command in the pod.
    let sleeper = sandbox.start(ProcessSpec::new(["sleep", "1000"])).await.unwrap();
    assert_eq!(sleeper.poll().await.unwrap(), None);
    eprintln!("resident memory of a running process's bridge: {}", bridge_rss_kib().await);
    sleeper.kill("SIGTERM").await.unwrap();
    let status = sleeper.wait(Some(Duration::from_secs(20))).await.unwrap();
    assert_eq!(
        (status.state, status.exit_code, status.signal.as_deref()),
        (ProcessState::Killed, Some(143), Some("SIGTERM"))
    );
    let trapped = "trap 'echo got-usr1; exit 7' USR1; echo ready; while :; do sleep 0.1; done";
    let trapping = sandbox.start(ProcessSpec::new(["sh", "-c", trapped])).await.unwrap();
    let mut stream = trapping.output(0);
    assert_eq!(&stream.next().await.unwrap().unwrap().data[..], b"ready\n");
    trapping.kill("USR1").await.unwrap();
    let status = trapping.wait(Some(Duration::from_secs(20))).await.unwrap();
    assert_eq!(status.exit_code, Some(7));
    assert_eq!(collect(&trapping, 0).await.0, b"ready\ngot-usr1\n");
    let bad = trapping.kill("SIGNOPE").await.unwrap_err();
    assert_eq!(bad.status(), Some(400));

    // SIGSTOP and SIGCONT (which no process can catch) reach the command too.
    let ticking = "while :; do echo tick; sleep 0.05; done";
    let ticker = sandbox.start(ProcessSpec::new(["sh", "-c", ticking])).await.unwrap();
    ticker.output(0).next().await.unwrap().unwrap();
    ticker.kill("SIGSTOP").await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let paused = ticker.status().await.unwrap().output_end;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(ticker.status().await.unwrap().output_end, paused, "SIGSTOP paused it");
    ticker.kill("SIGCONT").await.unwrap();
    eventually(Duration::from_secs(10), "SIGCONT resumes it", || async {
        ticker.status().await.unwrap().output_end > paused
    })
    .await;

    // SIGKILL and the deadline kill the command's whole group before its status says so.
    ticker.kill("SIGKILL").await.unwrap();
    let killed = sandbox.start(ProcessSpec::new(["sleep", "1001"])).await.unwrap();
    killed.kill("SIGKILL").await.unwrap();
    let status = killed.wait(Some(Duration::from_secs(20))).await.unwrap();
    assert_eq!(
        (status.state, status.exit_code, status.signal.as_deref()),
        (ProcessState::Killed, Some(137), Some("SIGKILL"))
    );
    let status = ticker.wait(Some(Duration::from_secs(20))).await.unwrap();
    assert_eq!(status.exit_code, Some(137));
    let spec = ProcessSpec::new(["sh", "-c", "echo up; sleep 1002 & sleep 1002"])
        .timeout(Duration::from_secs(1));
    let before = Instant::now();
    let timed = sandbox.start(spec).await.unwrap();
    let status = timed.wait(Some(Duration::from_secs(20))).await.unwrap();
    assert_eq!(
        (status.state, status.exit_code, status.timed_out),
        (ProcessState::TimedOut, Some(124), true)
    );
    assert!(before.elapsed() < Duration::from_secs(10), "the deadline was not kept");
    assert_eq!(collect(&timed, 0).await.0, b"up\n");
    let left = command_lines(&sandbox).await;
    assert!(!left.contains("sleep 1001") && !left.contains("sleep 1002"), "left: {left}");

    // Processes end with their sandbox: nothing of theirs stays on the server's host.
    sandbox.start(ProcessSpec::new(["sleep", "1003"])).await.unwrap();
    eventually(Duration::from_secs(10), "a supervisor and its bridge run", || async {
        host_processes_of(sandbox.id()) == 2
    })
    .await;
    sandbox.terminate().await.unwrap();
    eventually(Duration::from_secs(15), "the supervisors end with the sandbox", || async {
        host_processes_of(sandbox.id()) == 0
    })
    .await;
    server.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_terminal_process_in_the_pod_sees_its_size_and_resize() {
    let Some(node) = node() else { return };
    let server = node.start();
    let porter = server.client();
    let (sandbox, _) = running(&porter, idle(&unique("node-pty"))).await;

    let process = sandbox.start(ProcessSpec::new(["sh"]).stdin(true).pty(80, 24)).await.unwrap();
    process.write_stdin("tty; stty size\n").await.unwrap();
    let mut stream = process.output(0);
    let mut text = String::new();
    while !text.contains("24 80") {
        text.push_str(&String::from_utf8_lossy(&stream.next().await.unwrap().unwrap().data));
    }
    assert!(text.contains("/dev/pts/"), "tty said: {text}");
    process.resize(120, 40).await.unwrap();
    process.write_stdin("stty size; exit 5\n").await.unwrap();
    while let Some(chunk) = stream.next().await {
        text.push_str(&String::from_utf8_lossy(&chunk.unwrap().data));
    }
    assert!(text.contains("40 120"), "after resize: {text}");
    let status = process.last_status().unwrap();
    assert!(status.pty);
    assert_eq!(status.exit_code, Some(5));

    // Input and signals right after the start are never lost (the bridge may not have reached
    // the pod yet).
    for round in 0..5 {
        let shell = sandbox.start(ProcessSpec::new(["sh"]).stdin(true).pty(80, 24)).await.unwrap();
        shell.write_stdin("exit 3\n").await.unwrap();
        let piped = sandbox.start(ProcessSpec::new(["cat"]).stdin(true)).await.unwrap();
        piped.write_stdin("x").await.unwrap();
        piped.close_stdin().await.unwrap();
        let sleeper = sandbox.start(ProcessSpec::new(["sleep", "1000"])).await.unwrap();
        sleeper.kill("SIGKILL").await.unwrap();
        let limit = Some(Duration::from_secs(30));
        assert_eq!(shell.wait(limit).await.unwrap().exit_code, Some(3), "round {round}");
        assert_eq!(piped.wait(limit).await.unwrap().exit_code, Some(0), "round {round}");
        assert_eq!(collect(&piped, 0).await.0, b"x", "round {round}");
        let status = sleeper.wait(limit).await.unwrap();
        assert_eq!(status.state, ProcessState::Killed, "round {round}");
    }

    // A quick command sees its size at once and keeps its output.
    for round in 0..3 {
        let spec = ProcessSpec::new(["stty", "size"]).pty(123, 45);
        let quick = sandbox.start(spec).await.unwrap();
        let (out, _) = collect(&quick, 0).await;
        assert_eq!(String::from_utf8_lossy(&out), "45 123\r\n", "round {round}");
    }
    // Closing a terminal's input is an end of transmission to the shell.
    let shell = sandbox.start(ProcessSpec::new(["sh"]).stdin(true).pty(80, 24)).await.unwrap();
    // Once it reads commands (its prompt): a shell that sets up line editing after an early
    // end of transmission drops it with the terminal's mode change, on any runtime.
    let mut prompt = shell.output(0);
    let mut seen = String::new();
    while !seen.contains("# ") {
        seen.push_str(&String::from_utf8_lossy(&prompt.next().await.unwrap().unwrap().data));
    }
    shell.close_stdin().await.unwrap();
    assert_eq!(shell.wait(Some(Duration::from_secs(20))).await.unwrap().exit_code, Some(0));

    sandbox.terminate().await.unwrap();
    server.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_process_in_the_pod_outlives_a_server_crash_without_losing_output() {
    let Some(node) = node() else { return };
    let server = node.start();
    let porter = server.client();
    let (sandbox, _) = running(&porter, idle(&unique("node-crash"))).await;
    let script = "seq 1 100000; sleep 4; seq 100001 200000";
    let process = sandbox.start(ProcessSpec::new(["sh", "-c", script])).await.unwrap();
    let mut received = Vec::new();
    {
        let mut stream = process.output(0);
        while received.len() < 100_000 {
            received.extend_from_slice(&stream.next().await.unwrap().unwrap().data);
        }
    }
    let args =
        kube_support::server_args(&node.server_kubeconfig, &node.namespace, "porter-sandbox:test");
    let server = server.crash_and_restart_as(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let client = server.client();
    let again = client.sandboxes().handle(sandbox.id()).process(process.id()).await.unwrap();
    let (rest, _) = collect(&again, received.len() as u64).await;
    received.extend(rest);
    let expected: String = (1..=200_000).map(|n| format!("{n}\n")).collect();
    assert!(received == expected.as_bytes(), "the output differs after the restart");
    assert_eq!(again.last_status().unwrap().exit_code, Some(0));
    client.sandboxes().handle(sandbox.id()).terminate().await.unwrap();
    server.stop();
}
