#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Integration tests of the OCI runtime. They need root, crun, tini and slirp4netns
//! (`apt-get install -y crun tini slirp4netns`) and skip (with a message) without them.

use std::{
    path::Path,
    time::{Duration, Instant},
};

use porter_sandbox_server::runtime::{
    Adoption, BindMount, Nat, NetworkMode, OutputStream, Runtime, RuntimeEvent, egress::AllowList,
    oci::OciRuntime,
};
// The bounded event channel, under the names these tests were written with.
use porter_sandbox_server::runtime::event_channel as unbounded_channel;
use tokio::sync::mpsc::Receiver as UnboundedReceiver;

#[path = "support/oci.rs"]
mod oci_support;
use oci_support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_a_workload_to_its_exit() {
    let Some(h) = Harness::new() else { return };
    assert!(h.rt.name().starts_with("oci/crun "), "{}", h.rt.name());
    let id = h.id("run");
    let spec = h.spec(&id, &["sh", "-c", "echo hi; echo err >&2; printf partial; exit 3"]);
    let (state, mut rx, took) = h.start(spec).await;
    eprintln!("start latency: {took:?}");
    assert_eq!(state["container"], id.as_str());
    assert!(state["network"].is_null());
    assert!(state["shim_pid"].as_u64().is_some());
    let (lines, exit) = run_to_exit(&mut rx).await;
    assert_eq!(exit, Some(3));
    let out: Vec<&str> =
        lines.iter().filter(|(s, _)| *s == OutputStream::Stdout).map(|(_, l)| l.as_str()).collect();
    let err: Vec<&str> =
        lines.iter().filter(|(s, _)| *s == OutputStream::Stderr).map(|(_, l)| l.as_str()).collect();
    assert_eq!(out, ["hi", "partial"]);
    assert_eq!(err, ["err"]);
    h.rt.kill(&id).await.unwrap();
    assert!(!h.state.join(&id).exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn latency() {
    let Some(h) = Harness::new() else { return };
    let mut starts = Vec::new();
    let mut first_lines = Vec::new();
    for _ in 0..10 {
        let id = h.id("lat");
        let t0 = Instant::now();
        let (_, mut rx, took) = h.start(h.spec(&id, &["echo", "ready"])).await;
        starts.push(took);
        assert!(matches!(next_event(&mut rx, WAIT).await, Some(RuntimeEvent::Line { .. })));
        first_lines.push(t0.elapsed());
        h.rt.kill(&id).await.unwrap();
    }
    let id = h.id("lat");
    h.start(h.spec(&id, &["sleep", "1000"])).await;
    let mut execs = Vec::new();
    for _ in 0..20 {
        let t0 = Instant::now();
        let out = h.exec(&id, &["true"]).await;
        assert_eq!(out.2, 0, "exec of true: {out:?}");
        execs.push(t0.elapsed());
    }
    let t0 = Instant::now();
    h.rt.kill(&id).await.unwrap();
    let kill = t0.elapsed();
    eprintln!(
        "start p50 {:?} (min {:?}), first line p50 {:?}, exec p50 {:?} (min {:?}), kill {kill:?}",
        median(starts.clone()),
        starts.iter().min().unwrap(),
        median(first_lines),
        median(execs.clone()),
        execs.iter().min().unwrap(),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exec_output_env_and_exit_code() {
    let Some(h) = Harness::new() else { return };
    let id = h.id("exec");
    h.start(h.spec(&id, &["sleep", "1000"])).await;
    let argv = ["sh", "-c", "echo out; echo err >&2; echo $FOO $GREETING; pwd; id -u; exit 5"];
    let out =
        h.rt.exec(
            &id,
            argv.iter().map(|s| (*s).to_owned()).collect(),
            vec![("FOO".into(), "bar".into())],
        )
        .await
        .unwrap();
    assert_eq!(out.stdout, "out\nbar hello\n/home/sandbox\n1000\n");
    assert_eq!(out.stderr, "err\n");
    assert_eq!(out.exit_code, 5);
    // Killed by a signal → 128 + signal.
    assert_eq!(h.exec(&id, &["sh", "-c", "kill -9 $$"]).await.2, 137);
    // A background process that keeps the output open does not hold the exec.
    let t0 = Instant::now();
    let (stdout, _, code) = h.exec(&id, &["sh", "-c", "sleep 30 & echo started"]).await;
    assert_eq!((stdout.as_str(), code), ("started\n", 0));
    // Not after the background process's 30 s (generous, for a loaded machine).
    assert!(t0.elapsed() < Duration::from_secs(15));
    // Unknown command.
    assert_ne!(h.exec(&id, &["no-such-command"]).await.2, 0);
    // Not running: a clear error.
    assert!(h.rt.exec("t-missing", vec!["true".into()], Vec::new()).await.is_err());
    h.rt.kill(&id).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_an_exec_kills_it() {
    let Some(h) = Harness::new() else { return };
    let id = h.id("drop");
    h.start(h.spec(&id, &["sleep", "1000"])).await;
    let script =
        "(while :; do sleep 1; done) & while :; do date +%s%N > /tmp/marker; sleep 0.02; done";
    let argv = vec!["sh".to_owned(), "-c".to_owned(), script.to_owned()];
    {
        // Run the loop until it has written its marker (however long the exec takes to start
        // on a loaded machine), then drop the exec at the end of this block.
        let exec = h.rt.exec(&id, argv, Vec::new());
        tokio::pin!(exec);
        let written = async {
            while h.exec(&id, &["cat", "/tmp/marker"]).await.0.is_empty() {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        };
        tokio::select! {
            _ = &mut exec => panic!("the loop cannot finish"),
            waited = tokio::time::timeout(Duration::from_secs(60), written) => {
                assert!(waited.is_ok(), "the loop never wrote its marker");
            }
        }
    }
    // Dropped: the loop stops writing (two reads 200 ms apart agree), within a deadline.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let first = h.exec(&id, &["cat", "/tmp/marker"]).await.0;
        tokio::time::sleep(Duration::from_millis(200)).await;
        if h.exec(&id, &["cat", "/tmp/marker"]).await.0 == first {
            break;
        }
        assert!(Instant::now() < deadline, "the loop still writes");
    }
    let cmdlines = h.exec(&id, &["sh", "-c", "cat /proc/[0-9]*/cmdline | tr '\\0' ' '"]).await.0;
    assert!(!cmdlines.contains("while"), "{cmdlines}");
    // Only the exec files of finished execs remain: none, once the dropped exec's clean-up ran.
    let exec_files = || -> Vec<_> {
        std::fs::read_dir(h.state.join(&id))
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with("exec-"))
            .map(|e| e.file_name())
            .collect()
    };
    let deadline = Instant::now() + WAIT;
    while !exec_files().is_empty() {
        assert!(Instant::now() < deadline, "exec files left: {:?}", exec_files());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    h.rt.kill(&id).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_removes_everything() {
    let Some(h) = Harness::new() else { return };
    let id = h.id("kill");
    let mut spec = h.spec(&id, &["sh", "-c", "sleep 1000 & sleep 1000"]);
    // With every part of the network: egress rules, DNS filter, a forwarded port.
    let egress = AllowList::parse(&["198.18.0.1".to_owned(), "*.test".to_owned()]).unwrap();
    spec.network = NetworkMode::Nat(Nat { egress: Some(egress), port: Some(8080) });
    spec.limits.memory_bytes = Some(256 << 20);
    let (state, mut rx, _) = h.start(spec).await;
    let forwarded = state["network"]["port"]["host"].as_str().unwrap().to_owned();
    assert!(std::net::TcpStream::connect(&forwarded).is_ok(), "slirp listens on {forwarded}");
    let shim = state["shim_pid"].as_u64().unwrap();
    let slirp = state["network"]["slirp_pid"].as_u64().unwrap();
    assert_eq!(state["network"]["netns"], format!("sbx-{id}"));
    assert!(alive(shim) && alive(slirp));
    assert!(Path::new("/run/netns").join(format!("sbx-{id}")).exists());
    assert!(!cgroup_leaves(&id).is_empty());
    let dir = h.state.join(&id);
    let t0 = Instant::now();
    h.rt.kill(&id).await.unwrap();
    eprintln!("kill took {:?}", t0.elapsed());
    assert!(!dir.exists());
    assert!(!Path::new("/run/crun").join(&id).exists());
    assert!(!Path::new("/run/netns").join(format!("sbx-{id}")).exists());
    assert!(cgroup_leaves(&id).is_empty(), "{:?}", cgroup_leaves(&id));
    assert!(!alive(shim) && !alive(slirp));
    assert!(std::net::TcpStream::connect(&forwarded).is_err(), "{forwarded} is closed");
    let left = processes_left(&id).await;
    assert!(left.is_empty(), "{left:?}");
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(!mountinfo.contains(h.state.to_str().unwrap()), "{mountinfo}");
    // The tailer stopped: no exit is reported for a killed sandbox.
    while let Ok(event) = rx.try_recv() {
        assert!(matches!(event, RuntimeEvent::Line { .. }), "{event:?}");
    }
    // Idempotent.
    h.rt.kill(&id).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_finds_slirp_without_its_pid_file() {
    let Some(h) = Harness::new() else { return };
    let id = h.id("nopid");
    let mut spec = h.spec(&id, &["sleep", "1000"]);
    spec.network = NetworkMode::Nat(Nat::default());
    let (state, _rx, _) = h.start(spec).await;
    let slirp = state["network"]["slirp_pid"].as_u64().unwrap();
    std::fs::remove_file(h.state.join(&id).join("slirp.pid")).unwrap();
    h.rt.kill(&id).await.unwrap();
    assert!(!alive(slirp), "found by its namespace");
    assert!(!Path::new("/run/netns").join(format!("sbx-{id}")).exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn isolation() {
    let Some(h) = Harness::new() else { return };
    let id = h.id("iso");
    h.start(h.spec(&id, &["sleep", "1000"])).await;
    let sh = |script: &'static str| ["sh", "-c", script];
    let pids: usize =
        h.exec(&id, &sh("ls /proc | grep -c '^[0-9]'")).await.0.trim().parse().unwrap();
    assert!(pids < 10, "{pids} pids visible");
    assert_eq!(h.exec(&id, &["id", "-u"]).await.0, "1000\n");
    assert_eq!(h.exec(&id, &["hostname"]).await.0, format!("{id}\n"));
    assert_ne!(h.exec(&id, &["mount", "-t", "tmpfs", "x", "/mnt"]).await.2, 0);
    assert_ne!(h.exec(&id, &["unshare", "-Ur", "true"]).await.2, 0, "user namespaces allowed");
    assert_ne!(h.exec(&id, &["test", "-e", "/work"]).await.2, 0);
    assert_ne!(h.exec(&id, &["ls", "/root"]).await.2, 0);
    assert_ne!(h.exec(&id, &["touch", "/usr/x"]).await.2, 0);
    let status = h.exec(&id, &["cat", "/proc/self/status"]).await.0;
    for want in ["NoNewPrivs:\t1", "Seccomp:\t2", "CapEff:\t0000000000000000"] {
        assert!(status.contains(want), "{want} missing: {status}");
    }
    assert_eq!(h.exec(&id, &sh("grep -c : /proc/net/dev")).await.0, "1\n", "only lo");
    h.rt.kill(&id).await.unwrap();

    // Even root inside has nothing of the host's /root and cannot mount.
    let id = h.id("isoroot");
    let mut spec = h.spec(&id, &["sleep", "1000"]);
    spec.user = (0, 0);
    h.start(spec).await;
    assert_eq!(h.exec(&id, &["ls", "-A", "/root"]).await, (String::new(), String::new(), 0));
    assert_ne!(h.exec(&id, &["mount", "-t", "tmpfs", "x", "/mnt"]).await.2, 0);
    let status = h.exec(&id, &["cat", "/proc/self/status"]).await.0;
    assert!(status.contains("CapEff:\t0000000020000420"), "{status}");
    h.rt.kill(&id).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fork_bomb_stays_bounded() {
    let Some(h) = Harness::new() else { return };
    let id = h.id("bomb");
    let mut spec = h.spec(&id, &["bash", "-c", "f() { f | f & }; f; sleep 1000"]);
    spec.limits.pids = Some(64);
    let (_, mut rx, _) = h.start(spec).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    for leaf in cgroup_leaves(&id) {
        if let Ok(current) = std::fs::read_to_string(leaf.join("pids.current")) {
            let current: u64 = current.trim().parse().unwrap();
            assert!(current <= 64, "{current} processes");
        }
    }
    assert!(std::process::Command::new("true").status().unwrap().success());
    let t0 = Instant::now();
    h.rt.kill(&id).await.unwrap();
    assert!(t0.elapsed() < Duration::from_secs(10));
    assert!(cgroup_leaves(&id).is_empty());
    rx.close();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_limit_kills_with_137() {
    let Some(h) = Harness::new() else { return };
    if !Path::new("/usr/bin/python3").exists() {
        eprintln!("skipping: no /usr/bin/python3");
        return;
    }
    let id = h.id("mem");
    let mut spec = h.spec(&id, &["python3", "-c", "b = bytearray(150 << 20); print('allocated')"]);
    spec.limits.memory_bytes = Some(64 << 20);
    let (_, mut rx, _) = h.start(spec).await;
    let (lines, exit) = run_to_exit(&mut rx).await;
    assert_eq!(exit, Some(137), "{lines:?}");
    h.rt.kill(&id).await.unwrap();
}

/// The host's address on its default route (not loopback).
fn host_ip() -> Option<String> {
    let out =
        std::process::Command::new("ip").args(["-4", "route", "get", "1.1.1.1"]).output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut words = text.split_whitespace();
    words.find(|w| *w == "src")?;
    words.next().map(str::to_owned)
}

async fn listen(addr: &str) -> u16 {
    let listener = tokio::net::TcpListener::bind((addr, 0)).await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            use tokio::io::AsyncWriteExt;
            let _ = socket.write_all(b"ok").await;
        }
    });
    port
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nat_reaches_the_host_ip_but_not_its_loopback() {
    let Some(h) = Harness::new() else { return };
    let loopback = listen("127.0.0.1").await;
    let id = h.id("nat");
    let mut spec = h.spec(&id, &["sleep", "1000"]);
    spec.network = NetworkMode::Nat(Nat::default());
    let (_, _rx, took) = h.start(spec).await;
    eprintln!("start latency with slirp4netns: {took:?}");
    let connect = "exec 3<>/dev/tcp/$0/$1 && head -c 2 <&3";
    let probe = |ip: String, port: u16| {
        let argv =
            ["timeout", "5", "bash", "-c", connect, &ip, &port.to_string()].map(str::to_owned);
        h.rt.exec(&id, argv.to_vec(), Vec::new())
    };
    let to_loopback = probe("10.0.2.2".into(), loopback).await.unwrap();
    assert_ne!(to_loopback.exit_code, 0, "host loopback reachable: {to_loopback:?}");
    match host_ip() {
        Some(ip) => {
            let port = listen(&ip).await;
            let out = probe(ip, port).await.unwrap();
            assert_eq!((out.stdout.as_str(), out.exit_code), ("ok", 0), "{out:?}");
        }
        None => eprintln!("no default route: outbound check skipped"),
    }
    let devices = h.exec(&id, &["cat", "/proc/net/dev"]).await.0;
    assert!(devices.contains("tap0"), "{devices}");
    h.rt.kill(&id).await.unwrap();
}

fn line_numbers(rx: &mut UnboundedReceiver<RuntimeEvent>, into: &mut Vec<String>) -> bool {
    let mut exited = false;
    while let Ok(event) = rx.try_recv() {
        match event {
            RuntimeEvent::Line { line, .. } => into.push(line),
            RuntimeEvent::Exited { .. } | RuntimeEvent::Terminated { .. } => exited = true,
        }
    }
    exited
}

/// Receives from `rx` until `count` more lines are in `into` (bounded by `WAIT`).
async fn receive_lines(
    rx: &mut UnboundedReceiver<RuntimeEvent>,
    into: &mut Vec<String>,
    count: usize,
) {
    let want = into.len() + count;
    let deadline = Instant::now() + WAIT;
    while into.len() < want {
        match next_event(rx, deadline.saturating_duration_since(Instant::now())).await {
            Some(RuntimeEvent::Line { line, .. }) => into.push(line),
            other => panic!("after {} lines: {other:?}", into.len()),
        }
    }
}

/// Receives what a dropped runtime's tailer still sent, until its channel closes (the tailer,
/// the only sender, is gone); whether an exit was among it.
async fn drain_closed(rx: &mut UnboundedReceiver<RuntimeEvent>, into: &mut Vec<String>) -> bool {
    let mut exited = false;
    loop {
        match tokio::time::timeout(WAIT, rx.recv()).await {
            Ok(Some(RuntimeEvent::Line { line, .. })) => into.push(line),
            Ok(Some(RuntimeEvent::Exited { .. } | RuntimeEvent::Terminated { .. })) => {
                exited = true;
            }
            Ok(None) => return exited,
            Err(_) => panic!("the dropped runtime's tailer still runs after {WAIT:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn survives_a_server_restart() {
    let Some(h) = Harness::new() else { return };
    let volume = tempfile::tempdir().unwrap();
    let id = h.id("adopt");
    let script = "i=0; while [ ! -e /data/stop ]; do echo line$i; i=$((i+1)); sleep 0.02; done; echo bye; exit 7";
    let mut spec = h.spec(&id, &["sh", "-c", script]);
    spec.mounts.push(BindMount {
        source: volume.path().to_owned(),
        target: "/data".into(),
        read_only: false,
    });
    let mut lines = Vec::new();

    // The first server starts it, then goes away (its tailer with it).
    let first = OciRuntime::new(h.state.clone());
    let (tx, mut rx1) = unbounded_channel();
    let state = first.start(spec, tx).await.unwrap().state;
    receive_lines(&mut rx1, &mut lines, 10).await;
    drop(first);
    assert!(!drain_closed(&mut rx1, &mut lines).await);

    // A second server adopts it: output continues without duplicates or gaps.
    let second = OciRuntime::new(h.state.clone());
    let (tx, mut rx2) = unbounded_channel();
    assert_eq!(second.adopt(&id, state.clone(), tx).await, Adoption::Running);
    receive_lines(&mut rx2, &mut lines, 15).await;
    drop(second);
    assert!(!drain_closed(&mut rx2, &mut lines).await);

    // It ends while no server runs.
    std::fs::write(volume.path().join("stop"), "").unwrap();
    let exit_file = h.state.join(&id).join("exit_code");
    let t0 = Instant::now();
    while !exit_file.exists() && t0.elapsed() < WAIT {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let third = OciRuntime::new(h.state.clone());
    let (tx, mut rx3) = unbounded_channel();
    assert_eq!(third.adopt(&id, state, tx).await, Adoption::Exited(7));
    assert!(!line_numbers(&mut rx3, &mut lines), "the exit is the server's to settle");
    third.kill(&id).await.unwrap();

    // Every line exactly once, in order; the first runtime's tailer did not run on.
    let bye = lines.pop();
    assert_eq!(bye.as_deref(), Some("bye"));
    let want: Vec<String> = (0..lines.len()).map(|i| format!("line{i}")).collect();
    assert_eq!(lines, want);
    assert!(lines.len() > 20, "{} lines", lines.len());
    // A sandbox that is gone is lost.
    assert_eq!(
        third.adopt("t-gone", serde_json::json!({}), unbounded_channel().0).await,
        Adoption::Lost
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sent_output_releases_disk_space() {
    use std::os::unix::fs::MetadataExt;
    let Some(h) = Harness::new() else { return };
    let id = h.id("chatty");
    // 20 000 lines of 1 000 bytes, then wait to be killed.
    let script = "head -c 20000000 /dev/zero | tr '\\0' x | fold -w 1000; echo; sleep 1000";
    let (_, mut rx, _) = h.start(h.spec(&id, &["sh", "-c", script])).await;
    let mut lines = 0;
    while lines < 20_000 {
        match next_event(&mut rx, WAIT).await {
            Some(RuntimeEvent::Line { line, .. }) => {
                assert_eq!(line.len(), 1000);
                lines += 1;
            }
            other => panic!("after {lines} lines: {other:?}"),
        }
    }
    // The space of sent output is released after it is sent: wait for it (bounded).
    let path = h.state.join(&id).join("stdout.log");
    let deadline = Instant::now() + WAIT;
    let log = loop {
        let log = std::fs::metadata(&path).unwrap();
        if log.blocks() * 512 < 8 << 20 || Instant::now() > deadline {
            break log;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(log.len(), 20_020_000);
    assert!(log.blocks() * 512 < 8 << 20, "{} bytes still allocated", log.blocks() * 512);
    h.rt.kill(&id).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_starts_explain_and_leave_nothing() {
    let Some(h) = Harness::new() else { return };
    let (tx, _rx) = unbounded_channel();

    let id = h.id("badroot");
    let mut spec = h.spec(&id, &["true"]);
    spec.rootfs = h.state.join("no-such-image");
    spec.network = NetworkMode::Nat(Nat::default());
    let err = h.rt.start(spec, tx.clone()).await.unwrap_err();
    eprintln!("bad root: {err}");
    assert!(err.message().contains("no-such-image"), "{err}");
    assert!(!h.state.join(&id).exists());
    assert!(!Path::new("/run/netns").join(format!("sbx-{id}")).exists());
    assert!(cgroup_leaves(&id).is_empty());
    let left = processes_left(&id).await;
    assert!(left.is_empty(), "{left:?}");

    let id = h.id("badvol");
    let mut spec = h.spec(&id, &["true"]);
    spec.mounts.push(BindMount {
        source: "/nonexistent/vol".into(),
        target: "/data".into(),
        read_only: false,
    });
    let err = h.rt.start(spec, tx.clone()).await.unwrap_err();
    eprintln!("bad volume: {err}");
    assert!(err.message().contains("/nonexistent/vol"), "{err}");
    assert!(!h.state.join(&id).exists());

    // A missing program is the workload's failure (exit 127 with tini's message), as with
    // any container runtime.
    let id = h.id("nocmd");
    let (tx, mut rx) = unbounded_channel();
    h.rt.start(h.spec(&id, &["no-such-program"]), tx).await.unwrap();
    let (lines, exit) = run_to_exit(&mut rx).await;
    eprintln!("missing program: {lines:?}");
    assert_eq!(exit, Some(127), "{lines:?}");
    h.rt.kill(&id).await.unwrap();

    assert!(h.rt.start(h.spec("Bad/Id", &["true"]), unbounded_channel().0).await.is_err());
}

fn kill9(pid: u64) {
    let status =
        std::process::Command::new("kill").args(["-9", &pid.to_string()]).status().unwrap();
    assert!(status.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_supervisor_is_reported() {
    let Some(h) = Harness::new() else { return };
    // While the server runs: an unknown exit (255) with an explanation on stderr.
    let id = h.id("shimdies");
    let (state, mut rx, _) = h.start(h.spec(&id, &["sleep", "1000"])).await;
    kill9(state["shim_pid"].as_u64().unwrap());
    let (lines, exit) = run_to_exit(&mut rx).await;
    assert_eq!(exit, Some(255));
    assert!(
        lines.iter().any(|(s, l)| *s == OutputStream::Stderr && l.contains("supervisor")),
        "{lines:?}"
    );
    h.rt.kill(&id).await.unwrap();
    let left = processes_left(&id).await;
    assert!(left.is_empty(), "{left:?}");

    // While the server is down: lost, and cleaned up on adoption.
    let id = h.id("shimlost");
    let first = OciRuntime::new(h.state.clone());
    let (tx, _rx) = unbounded_channel();
    let state = first.start(h.spec(&id, &["sleep", "1000"]), tx).await.unwrap().state;
    drop(first);
    let shim = state["shim_pid"].as_u64().unwrap();
    kill9(shim);
    while alive(shim) {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let second = OciRuntime::new(h.state.clone());
    assert_eq!(second.adopt(&id, state, unbounded_channel().0).await, Adoption::Lost);
    assert!(!h.state.join(&id).exists());
    assert!(!Path::new("/run/crun").join(&id).exists());
    assert!(cgroup_leaves(&id).is_empty());
    let left = processes_left(&id).await;
    assert!(left.is_empty(), "{left:?}");
}
