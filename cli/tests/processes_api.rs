//! Processes through the core against the real server: live output, replay from any offset by
//! any client, binary stdin, terminals, deadlines that kill the whole tree, signals, retention,
//! many concurrent streams, and durability across a server crash.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr)]

mod support;

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use porter_sandbox::{
    ErrorKind, Process, ProcessSpec, Sandbox,
    types::{OutputStreamName, ProcessState, SandboxSpec, StatusResponsePhase},
};
use support::{TestServer, shared, start_server, unique, wait_started};

async fn running_sandbox(server: &TestServer) -> Sandbox {
    let spec = SandboxSpec::new("host").command(["sleep", "infinity"]);
    let sandbox = server.client().sandboxes().create(spec).await.unwrap();
    assert_eq!(wait_started(&sandbox, Duration::from_secs(30)).await, StatusResponsePhase::Running);
    sandbox
}

/// Every output byte from `offset` until the end, per stream.
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

fn lines(from: u64, to: u64) -> Vec<u8> {
    (from..=to).map(|n| format!("{n}\n")).collect::<String>().into_bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn output_is_streamed_live_tagged_by_stream_and_ends_with_the_status() {
    let sandbox = running_sandbox(shared()).await;
    // The command holds after its first line until the test lets it go on: the first line
    // must arrive while it still runs, however slow the machine.
    let go = format!("/tmp/go-{}", unique("live"));
    let script = format!(
        "echo first; while [ ! -e {go} ]; do sleep 0.02; done; echo oops >&2; seq 1 300; exit 3"
    );
    let process = sandbox.start(ProcessSpec::new(["sh", "-c", &script])).await.unwrap();
    assert!(!process.id().is_empty());
    let mut stream = process.output(0);
    let first = stream.next().await.unwrap().unwrap();
    assert_eq!(process.status().await.unwrap().state, ProcessState::Running);
    assert_eq!(sandbox.exec(["touch", &go]).await.unwrap().exit_code, 0);
    assert_eq!(
        (first.stream, first.data.as_ref(), first.offset),
        (OutputStreamName::Stdout, &b"first\n"[..], 0)
    );
    let (mut out, mut err) = (first.data.to_vec(), Vec::new());
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.unwrap();
        match chunk.stream {
            OutputStreamName::Stderr => err.extend_from_slice(&chunk.data),
            _ => out.extend_from_slice(&chunk.data),
        }
    }
    assert_eq!(err, b"oops\n");
    let mut expected = b"first\n".to_vec();
    expected.extend(lines(1, 300));
    assert_eq!(out, expected);
    let status = process.last_status().unwrap();
    assert_eq!(
        (status.state, status.exit_code, status.timed_out),
        (ProcessState::Exited, Some(3), false)
    );
    assert_eq!(process.wait(None).await.unwrap().exit_code, Some(3));
    assert_eq!(process.poll().await.unwrap(), Some(3));
    sandbox.terminate().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_client_replays_every_byte_from_any_offset() {
    let sandbox = running_sandbox(shared()).await;
    let process = sandbox
        .start(ProcessSpec::new(["sh", "-c", "seq 1 20000; sleep 0.3; seq 20001 40000"]))
        .await
        .unwrap();
    // A reader that goes away in the middle.
    let mut stream = process.output(0);
    let mut seen = 0u64;
    while seen < 10_000 {
        seen = stream.next().await.unwrap().unwrap().end();
    }
    drop(stream);
    // A fresh client finds the process by id and reads everything, then from the middle.
    let other = shared().client().sandboxes().handle(sandbox.id());
    let again = other.process(process.id()).await.unwrap();
    let (all, _) = collect(&again, 0).await;
    assert_eq!(all, lines(1, 40000));
    let (tail, _) = collect(&again, seen).await;
    assert_eq!(tail, all[usize::try_from(seen).unwrap()..]);
    // And a one-time read of what is there now.
    let mut now = Vec::new();
    let mut once = again.output_now(0);
    while let Some(chunk) = once.next().await {
        now.extend_from_slice(&chunk.unwrap().data);
    }
    assert_eq!(now, all);
    let listed = sandbox.processes().await.unwrap();
    assert!(listed.iter().any(|p| p.id() == process.id()));
    let missing = sandbox.process("no-such-process").await.unwrap_err();
    assert_eq!(missing.kind(), ErrorKind::NotFound, "{missing}");
    sandbox.terminate().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_stdin_round_trips_ten_megabytes() {
    let sandbox = running_sandbox(shared()).await;
    let process = sandbox.start(ProcessSpec::new(["cat"]).stdin(true)).await.unwrap();
    let data: Vec<u8> =
        (0..10 * 1024 * 1024u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    let reader = {
        let process = process.clone();
        tokio::spawn(async move { collect(&process, 0).await })
    };
    process.write_stdin(data.clone()).await.unwrap();
    process.close_stdin().await.unwrap();
    let (out, _) = reader.await.unwrap();
    assert_eq!(out.len(), data.len());
    assert!(out == data, "stdin came back changed");
    assert_eq!(process.wait(Some(Duration::from_secs(30))).await.unwrap().exit_code, Some(0));
    sandbox.terminate().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_terminal_is_a_tty_and_sees_its_resize() {
    let sandbox = running_sandbox(shared()).await;
    let spec = ProcessSpec::new(["sh"]).stdin(true).pty(80, 24);
    let process = sandbox.start(spec).await.unwrap();
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
    sandbox.terminate().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deadline_kills_the_tree_and_signals_end_processes() {
    let sandbox = running_sandbox(shared()).await;
    let spec = ProcessSpec::new(["sh", "-c", "echo up; sleep 1000 & sleep 1000"])
        .timeout(Duration::from_secs(1));
    let process = sandbox.start(spec).await.unwrap();
    let status = process.wait(Some(Duration::from_secs(20))).await.unwrap();
    assert_eq!(
        (status.state, status.exit_code, status.timed_out),
        (ProcessState::TimedOut, Some(124), true)
    );
    assert_eq!(collect(&process, 0).await.0, b"up\n");
    let list = "for p in /proc/[0-9]*; do tr '\\0' ' ' < $p/cmdline; echo; done";
    let left = sandbox.exec(["sh", "-c", list]).await.unwrap().stdout;
    assert!(!left.contains("sleep 1000"), "left running: {left}");

    let process = sandbox.start(ProcessSpec::new(["sleep", "1000"])).await.unwrap();
    assert_eq!(process.poll().await.unwrap(), None);
    let waited = process.wait(Some(Duration::from_millis(300))).await.unwrap_err();
    assert_eq!(waited.kind(), ErrorKind::Timeout);
    process.kill("SIGTERM").await.unwrap();
    let status = process.wait(Some(Duration::from_secs(20))).await.unwrap();
    assert_eq!(
        (status.state, status.exit_code, status.signal.as_deref()),
        (ProcessState::Killed, Some(143), Some("SIGTERM"))
    );
    let bad = process.kill("SIGNOPE").await.unwrap_err();
    assert_eq!(bad.status(), Some(400));
    sandbox.terminate().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_processes_stream_at_once_without_loss() {
    let sandbox = running_sandbox(shared()).await;
    let started = Instant::now();
    let mut readers = Vec::new();
    for n in 0..200u64 {
        let script = format!("seq {} {}", n * 1000 + 1, n * 1000 + 1000);
        let process = sandbox.start(ProcessSpec::new(["sh", "-c", script.as_str()])).await.unwrap();
        readers.push(tokio::spawn(async move { (n, collect(&process, 0).await.0) }));
    }
    for reader in readers {
        let (n, out) = reader.await.unwrap();
        assert_eq!(out, lines(n * 1000 + 1, n * 1000 + 1000), "process {n}");
    }
    eprintln!("200 processes started and streamed in {:?}", started.elapsed());
    sandbox.terminate().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn output_beyond_the_retention_limit_is_dropped_oldest_first() {
    let server = start_server(&["--process-output-retention", "8Mi"]);
    let sandbox = running_sandbox(&server).await;
    let process =
        sandbox.start(ProcessSpec::new(["sh", "-c", "head -c 20000000 /dev/zero"])).await.unwrap();
    let status = process.wait(Some(Duration::from_secs(30))).await.unwrap();
    assert_eq!(status.output_end, 20_000_000);
    assert!(
        status.output_start >= 20_000_000 - 12 * 1024 * 1024,
        "kept from {}",
        status.output_start
    );
    let mut stream = process.output(0);
    let first = stream.next().await.unwrap().unwrap();
    assert!(first.offset >= status.output_start, "replayed from {}", first.offset);
    let mut total = first.data.len() as u64;
    while let Some(chunk) = stream.next().await {
        total += chunk.unwrap().data.len() as u64;
    }
    assert_eq!(first.offset + total, 20_000_000);
    sandbox.terminate().await.unwrap();
    server.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_crash_mid_stream_loses_no_byte() {
    let server = start_server(&[]);
    let sandbox = running_sandbox(&server).await;
    // About 50 MB, in two halves so the process is still running across the restart.
    let script = "seq 1 3500000; sleep 3; seq 3500001 6500000";
    let process = sandbox.start(ProcessSpec::new(["sh", "-c", script])).await.unwrap();
    let mut received = Vec::new();
    {
        let mut stream = process.output(0);
        while received.len() < 5_000_000 {
            received.extend_from_slice(&stream.next().await.unwrap().unwrap().data);
        }
    }
    let server = server.crash_and_restart();
    let client = server.client();
    let again = client.sandboxes().handle(sandbox.id()).process(process.id()).await.unwrap();
    let (rest, _) = collect(&again, received.len() as u64).await;
    received.extend(rest);
    let expected = lines(1, 6_500_000);
    assert_eq!(received.len(), expected.len());
    assert!(received == expected, "the output differs after the restart");
    assert_eq!(again.last_status().unwrap().exit_code, Some(0));
    client.sandboxes().handle(sandbox.id()).terminate().await.unwrap();
    server.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deep_data_directory_does_not_break_process_sockets() {
    // Socket paths hold at most 107 bytes: the process's sockets must not depend on the depth.
    let dir = tempfile::tempdir().unwrap();
    let data_dir =
        dir.path().join("a-data-directory-whose-path-is-long-enough-to-overflow-a-socket-address");
    let server = support::start_server_in(dir, data_dir, &[], &[]);
    let sandbox = running_sandbox(&server).await;
    let plain = sandbox.start(ProcessSpec::new(["sh", "-c", "echo plain"])).await.unwrap();
    assert_eq!(collect(&plain, 0).await.0, b"plain\n");
    let terminal = sandbox.start(ProcessSpec::new(["sh", "-c", "tty"]).pty(80, 24)).await.unwrap();
    let (out, _) = collect(&terminal, 0).await;
    assert!(
        String::from_utf8_lossy(&out).contains("/dev/pts/"),
        "{}",
        String::from_utf8_lossy(&out)
    );
    assert_eq!(terminal.last_status().unwrap().exit_code, Some(0));
    sandbox.terminate().await.unwrap();
    server.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stdin_and_signals_right_after_the_start_are_never_lost() {
    let sandbox = running_sandbox(shared()).await;
    for round in 0..15 {
        let terminal = ProcessSpec::new(["sh"]).stdin(true).pty(80, 24);
        let shell = sandbox.start(terminal).await.unwrap();
        shell.write_stdin("exit 3\n").await.unwrap_or_else(|e| panic!("round {round}: {e}"));
        let piped = sandbox.start(ProcessSpec::new(["cat"]).stdin(true)).await.unwrap();
        piped.write_stdin("x").await.unwrap_or_else(|e| panic!("round {round}: {e}"));
        piped.close_stdin().await.unwrap();
        let sleeper = sandbox.start(ProcessSpec::new(["sleep", "1000"])).await.unwrap();
        sleeper.kill("SIGKILL").await.unwrap_or_else(|e| panic!("round {round}: {e}"));
        let limit = Some(Duration::from_secs(30));
        assert_eq!(shell.wait(limit).await.unwrap().exit_code, Some(3), "round {round}");
        assert_eq!(piped.wait(limit).await.unwrap().exit_code, Some(0), "round {round}");
        assert_eq!(sleeper.wait(limit).await.unwrap().state, ProcessState::Killed, "round {round}");
    }
    sandbox.terminate().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quick_terminal_command_sees_its_size_and_keeps_its_output() {
    // A command that ends within milliseconds: its terminal already has the size asked for,
    // and what it printed is kept even when it ended before the terminal was handed over.
    let sandbox = running_sandbox(shared()).await;
    for round in 0..12 {
        let spec = ProcessSpec::new(["stty", "size"]).pty(123, 45);
        let process = sandbox.start(spec).await.unwrap();
        let (out, _) = collect(&process, 0).await;
        assert_eq!(String::from_utf8_lossy(&out), "45 123\r\n", "round {round}");
    }
    sandbox.terminate().await.unwrap();
}
