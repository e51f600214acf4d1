//! Benchmark of the local server (not a test): create → running latency, exec round trip, and
//! memory per idle sandbox, with the `host` image. Needs root and crun, like the server.
//!
//! `cargo run --release -p porter-sandbox-cli --example server_bench [-- SAMPLES]`
#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use porter_sandbox::{
    Porter,
    types::{SandboxSpec, StatusResponsePhase},
};
use porter_sandbox_server::serve::{self, ServeOptions};

fn percentile(samples: &mut [Duration], p: f64) -> Duration {
    samples.sort();
    let rank = ((samples.len() as f64 - 1.0) * p).round() as usize;
    samples[rank]
}

fn mem_available_kib() -> u64 {
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap();
    let line = meminfo.lines().find(|l| l.starts_with("MemAvailable:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[tokio::main]
async fn main() {
    let samples: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(30);
    let dir = tempfile::tempdir().unwrap();
    let server = serve::bind(ServeOptions {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: dir.path().to_path_buf(),
        api_keys: Vec::new(),
        ephemeral: true,
    })
    .await
    .unwrap();
    let base = format!("http://{}", server.addr);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(server.serve(async move {
        let _ = stopped.await;
    }));
    let porter = Porter::builder().base_url(&base).build().unwrap();

    // Warm-up: builds the host image once.
    let warm = porter.sandboxes().create(SandboxSpec::new("host").command(["true"])).await.unwrap();
    while !warm.refresh().await.unwrap().phase.is_terminal() {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }

    let mut to_running = Vec::new();
    let mut sandboxes = Vec::new();
    let before = mem_available_kib();
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
    let per_sandbox_kib = before.saturating_sub(mem_available_kib()) / samples as u64;

    let mut exec = Vec::new();
    let target = &sandboxes[0];
    for _ in 0..samples * 3 {
        let started = Instant::now();
        let out = target.exec(["true"]).await.unwrap();
        assert_eq!(out.exit_code, 0);
        exec.push(started.elapsed());
    }
    for sandbox in &sandboxes {
        sandbox.terminate().await.unwrap();
    }
    let _ = stop.send(());
    serving.await.unwrap().unwrap();

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
        "memory per idle sandbox: {:.1} MiB (host MemAvailable delta)",
        per_sandbox_kib as f64 / 1024.0
    );
}
