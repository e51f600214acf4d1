//! Output floods: a workload or an exec printing a lot keeps the server's
//! memory, its data directory and its latency bounded.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

mod support;

use std::{
    path::Path,
    time::{Duration, Instant},
};

use porter_sandbox::{
    LogsQuery, Porter,
    api::ListSandboxesParams,
    types::{SandboxSpec, StatusResponsePhase},
};
use support::{TestServer, start_server, wait_started};

const START: Duration = Duration::from_secs(30);

/// Resident memory of `pid`, bytes.
fn rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse::<u64>().unwrap() * 1024
}

/// Disk blocks allocated under `dir`, bytes (punched holes do not count).
fn disk_usage(dir: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let mut total = 0;
    let Ok(entries) = std::fs::read_dir(dir) else { return 0 };
    for entry in entries.flatten() {
        let Ok(meta) = entry.path().symlink_metadata() else { continue };
        total += meta.blocks() * 512;
        if meta.is_dir() {
            total += disk_usage(&entry.path());
        }
    }
    total
}

/// Times one status read and one listing.
async fn probe(porter: &Porter, id: &str) -> Duration {
    let started = Instant::now();
    porter.sandboxes().get_by_id(id).await.unwrap();
    porter.sandboxes().list(ListSandboxesParams::default()).await.unwrap();
    started.elapsed()
}

async fn running(server: &TestServer, command: &str) -> porter_sandbox::Sandbox {
    let sandbox = server
        .client()
        .sandboxes()
        .create(SandboxSpec::new("host").command(["sh", "-c", command]))
        .await
        .unwrap();
    assert_eq!(wait_started(&sandbox, START).await, StatusResponsePhase::Running);
    sandbox
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_workload_printing_24_mb_keeps_memory_disk_and_latency_bounded() {
    let server = start_server(&[]);
    let porter = server.client();
    let pid = server.pid();
    // A first sandbox, so the baseline includes what any sandbox costs.
    // (It may finish before it is seen running, so only its end is waited for.)
    let warm = porter
        .sandboxes()
        .create(SandboxSpec::new("host").command(["sh", "-c", "echo warm"]))
        .await
        .unwrap();
    support::wait_finished(&warm, START).await;
    let rss_before = rss(pid);
    let disk_before = disk_usage(&server.data_dir);

    // 12 million lines of "y" (the costliest shape: per-line overhead), then a last line.
    let flood = running(&server, "yes | head -c 24000000; echo flood-done; sleep infinity").await;
    let (mut rss_max, mut disk_max, mut worst) = (rss_before, disk_before, Duration::ZERO);
    let began = Instant::now();
    let deadline = began + Duration::from_secs(180);
    loop {
        worst = worst.max(probe(&porter, flood.id()).await);
        rss_max = rss_max.max(rss(pid));
        disk_max = disk_max.max(disk_usage(&server.data_dir));
        let tail = flood.logs(LogsQuery::new().limit(1)).await.unwrap();
        if tail.last().is_some_and(|l| l.line == "flood-done") {
            break;
        }
        assert!(Instant::now() < deadline, "the flood was not stored in time");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let logs = flood.logs(LogsQuery::new().limit(10_000)).await.unwrap();
    flood.terminate().await.unwrap();
    let rss_growth = rss_max.saturating_sub(rss_before);
    let disk_growth = disk_max.saturating_sub(disk_before);
    println!(
        "flood stored in {:?}: RSS {} MB -> max {} MB, data dir +{} MB, worst get+list {:?}",
        began.elapsed(),
        rss_before >> 20,
        rss_max >> 20,
        disk_growth >> 20,
        worst
    );
    assert!(rss_growth < 200 << 20, "server memory grew by {} MB", rss_growth >> 20);
    assert!(disk_growth < 100 << 20, "the data directory grew by {} MB", disk_growth >> 20);
    assert!(worst < Duration::from_secs(1), "a get+list took {worst:?}");
    // The log kept the newest lines.
    assert_eq!(logs.last().unwrap().line, "flood-done");
    server.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exec_printing_2_mb_of_newlines_does_not_stall_other_requests() {
    let server = start_server(&[]);
    let porter = server.client();
    let sandbox = running(&server, "sleep infinity").await;
    let poller = {
        let porter = porter.clone();
        let id = sandbox.id().to_owned();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = stop.clone();
        let task = tokio::spawn(async move {
            let mut worst = Duration::ZERO;
            let mut polls = 0;
            while !flag.load(std::sync::atomic::Ordering::SeqCst) {
                worst = worst.max(probe(&porter, &id).await);
                polls += 1;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            (worst, polls)
        });
        (stop, task)
    };
    let out =
        sandbox.exec(["sh", "-c", "head -c 2000000 /dev/zero | tr '\\0' '\\n'"]).await.unwrap();
    // Logged by the time the exec answered; poll a little longer for any trailing write.
    tokio::time::sleep(Duration::from_millis(300)).await;
    poller.0.store(true, std::sync::atomic::Ordering::SeqCst);
    let (worst, polls) = poller.1.await.unwrap();
    sandbox.terminate().await.unwrap();
    println!("2 MB of newlines: worst get+list {worst:?} over {polls} polls");
    assert_eq!(out.exit_code, 0);
    assert!(out.stdout.len() <= 1 << 20, "stdout is capped: {} bytes", out.stdout.len());
    assert_eq!(out.truncated, Some(true));
    assert!(worst < Duration::from_secs(1), "a get+list took {worst:?}");
    server.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exec_printing_32_mib_of_nul_bytes_gives_a_bounded_response() {
    let server = start_server(&[]);
    let sandbox = running(&server, "sleep infinity").await;
    let out = sandbox.exec(["head", "-c", "33554432", "/dev/zero"]).await.unwrap();
    let json = serde_json::to_string(&out).unwrap();
    let logs = sandbox.logs(LogsQuery::new().limit(10_000)).await.unwrap();
    let logs_json = serde_json::to_string(&logs).unwrap();
    sandbox.terminate().await.unwrap();
    println!("32 MiB of NULs: exec response {} bytes, logs {} bytes", json.len(), logs_json.len());
    assert_eq!(out.exit_code, 0);
    assert_eq!(out.truncated, Some(true));
    assert!(json.len() < (1 << 20) + 4096, "the exec response is {} bytes", json.len());
    assert!(logs_json.len() < 9 << 20, "the logs response is {} bytes", logs_json.len());
    assert!(logs.iter().any(|l| l.line.contains("dropped beyond the limit")), "{logs:?}");
    server.stop();
}
