//! Benchmark of the local server (not a test): create → running latency, exec round trip,
//! snapshot capture and start from a snapshot, and memory per idle sandbox, with the `host` image;
//! then a registry image's cold pull + start and its warm starts (a busybox image on a loopback
//! `docker-registry`, built with umoci and pushed with skopeo). Needs root and crun, like the
//! server; the registry part also needs `docker-registry umoci skopeo busybox-static`.
//!
//! `cargo run --release -p porter-sandbox-cli --example server_bench [-- SAMPLES]`
#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)]

#[path = "support/bench.rs"]
mod bench;

use std::time::{Duration, Instant};

use bench::{BenchServer, percentile};
use porter_sandbox::{
    Porter,
    types::{SandboxSpec, SnapshotSpec, SnapshotStatus, StatusResponsePhase},
};

#[path = "../../server/tests/support/registry.rs"]
mod registry_fixture;

/// Memory charged to one sandbox: its cgroup (the workload) plus the proportional set size of
/// the host-side processes that serve it (shim, crun, slirp4netns), found by the id on their
/// command line.
fn sandbox_memory_kib(id: &str) -> u64 {
    let cgroup = ["/sys/fs/cgroup/memory/porter-sandbox", "/sys/fs/cgroup/porter-sandbox"]
        .iter()
        .find_map(|root| {
            let dir = format!("{root}/{id}");
            std::fs::read_to_string(format!("{dir}/memory.usage_in_bytes"))
                .or_else(|_| std::fs::read_to_string(format!("{dir}/memory.current")))
                .ok()
        })
        .and_then(|v| v.trim().parse::<u64>().ok())
        .unwrap_or(0)
        / 1024;
    let mut helpers = 0;
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let dir = entry.path();
        let Ok(cmdline) = std::fs::read(dir.join("cmdline")) else { continue };
        if !String::from_utf8_lossy(&cmdline).contains(id) {
            continue;
        }
        let rollup = std::fs::read_to_string(dir.join("smaps_rollup")).unwrap_or_default();
        helpers += rollup
            .lines()
            .find(|l| l.starts_with("Pss:"))
            .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
            .unwrap_or(0);
    }
    cgroup + helpers
}

#[tokio::main]
async fn main() {
    let samples: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(30);
    let server = BenchServer::start().await;
    let porter = &server.porter;

    // Warm-up: builds the host image once.
    let warm = porter.sandboxes().create(SandboxSpec::new("host").command(["true"])).await.unwrap();
    while !warm.refresh().await.unwrap().phase.is_terminal() {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }

    let mut to_running = Vec::new();
    let mut sandboxes = Vec::new();
    for _ in 0..samples {
        let started = Instant::now();
        let sandbox = porter
            .sandboxes()
            .create(SandboxSpec::new("host").command(["sleep", "600"]))
            .await
            .unwrap();
        loop {
            let phase = sandbox.refresh().await.unwrap().phase;
            if phase == StatusResponsePhase::Running {
                break;
            }
            assert!(!phase.is_terminal(), "sandbox ended: {phase}");
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        to_running.push(started.elapsed());
        sandboxes.push(sandbox);
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let total: u64 = sandboxes.iter().map(|s| sandbox_memory_kib(s.id())).sum();
    let per_sandbox_kib = total / samples as u64;

    let mut exec = Vec::new();
    let target = &sandboxes[0];
    for _ in 0..samples * 3 {
        let started = Instant::now();
        let out = target.exec(["true"]).await.unwrap();
        assert_eq!(out.exit_code, 0);
        exec.push(started.elapsed());
    }
    // Snapshots: a 10 MiB file and 200 small ones in the writable layer.
    let prepared = target
        .exec([
            "sh",
            "-c",
            "head -c 10485760 /dev/urandom > /tmp/blob && mkdir /tmp/many && \
             for i in $(seq 200); do echo $i > /tmp/many/$i; done",
        ])
        .await
        .unwrap();
    assert_eq!(prepared.exit_code, 0, "{prepared:?}");
    let mut capture = Vec::new();
    let mut snapshot = None;
    for _ in 0..samples.min(10) {
        let started = Instant::now();
        let pending =
            porter.snapshots().create(target.id(), SnapshotSpec::default()).await.unwrap();
        let ready = loop {
            let s = porter.snapshots().get(&pending.id).await.unwrap();
            if s.status != SnapshotStatus::Pending {
                break s;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        };
        assert_eq!(ready.status, SnapshotStatus::Ready, "{ready:?}");
        capture.push(started.elapsed());
        snapshot = Some(ready);
    }
    let snapshot = snapshot.unwrap();
    let mut from_snapshot = Vec::new();
    for _ in 0..samples.min(10) {
        let started = Instant::now();
        let spec = SandboxSpec::from_snapshot(&snapshot.id).command(["sleep", "600"]);
        let sandbox = porter.sandboxes().create(spec).await.unwrap();
        loop {
            let phase = sandbox.refresh().await.unwrap().phase;
            if phase == StatusResponsePhase::Running {
                break;
            }
            assert!(!phase.is_terminal(), "sandbox from a snapshot ended: {phase}");
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        from_snapshot.push(started.elapsed());
        sandboxes.push(sandbox);
    }

    for sandbox in &sandboxes {
        sandbox.terminate().await.unwrap();
    }
    let registry = registry_starts(porter, samples).await;
    server.stop().await;

    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!("samples: {samples} sandboxes, {} execs", exec.len());
    println!(
        "create -> running: p50 {:.1} ms, p95 {:.1} ms",
        ms(percentile(&mut to_running, 0.5)),
        ms(percentile(&mut to_running, 0.95))
    );
    println!(
        "exec round trip:   p50 {:.1} ms, p95 {:.1} ms",
        ms(percentile(&mut exec, 0.5)),
        ms(percentile(&mut exec, 0.95))
    );
    println!(
        "snapshot capture:  p50 {:.1} ms, p95 {:.1} ms ({:.1} MiB in 201 files, create -> ready)",
        ms(percentile(&mut capture, 0.5)),
        ms(percentile(&mut capture, 0.95)),
        snapshot.size_bytes.unwrap_or(0) as f64 / f64::from(1u32 << 20)
    );
    println!(
        "start from snapshot: p50 {:.1} ms, p95 {:.1} ms (create -> running)",
        ms(percentile(&mut from_snapshot, 0.5)),
        ms(percentile(&mut from_snapshot, 0.95))
    );
    println!(
        "memory per idle sandbox: {:.1} MiB (cgroup usage + PSS of shim, crun and slirp4netns)",
        per_sandbox_kib as f64 / 1024.0
    );
    match registry {
        Ok((cold, mut warm)) => println!(
            "registry image (busybox, 2 layers, loopback registry): cold pull + start {:.1} ms; \
             warm start p50 {:.1} ms, p95 {:.1} ms",
            ms(cold),
            ms(percentile(&mut warm, 0.5)),
            ms(percentile(&mut warm, 0.95))
        ),
        Err(why) => println!("registry image: not measured ({why})"),
    }
}

/// Create → running of a fresh sandbox of `image`.
async fn time_to_running(porter: &Porter, image: &str) -> (Duration, porter_sandbox::Sandbox) {
    let started = Instant::now();
    let sandbox = porter.sandboxes().create(SandboxSpec::new(image)).await.unwrap();
    loop {
        let phase = sandbox.refresh().await.unwrap().phase;
        if phase == StatusResponsePhase::Running {
            break;
        }
        assert!(!phase.is_terminal(), "sandbox of {image} ended: {phase}");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    (started.elapsed(), sandbox)
}

/// The first start of a registry image (pull + unpack + start), then `samples` warm starts.
async fn registry_starts(
    porter: &Porter,
    samples: usize,
) -> Result<(Duration, Vec<Duration>), String> {
    for tool in ["docker-registry", "umoci", "skopeo", "busybox"] {
        let found = std::process::Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .output()
            .is_ok_and(|o| o.status.success());
        if !found {
            return Err(format!(
                "`{tool}` is missing: apt-get install -y docker-registry umoci skopeo busybox-static"
            ));
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let images = registry_fixture::build_images(dir.path());
    let storage = dir.path().join("registry");
    std::fs::create_dir_all(&storage).unwrap();
    let registry = registry_fixture::Registry::start(&storage, None);
    let image = format!("{}/bench/busybox:1", registry.addr);
    registry_fixture::push(&images, "base", &image, false, false);
    let (cold, first) = time_to_running(porter, &image).await;
    let mut warm = Vec::new();
    let mut started = vec![first];
    for _ in 0..samples {
        let (elapsed, sandbox) = time_to_running(porter, &image).await;
        warm.push(elapsed);
        started.push(sandbox);
    }
    for sandbox in &started {
        sandbox.terminate().await.unwrap();
    }
    Ok((cold, warm))
}
