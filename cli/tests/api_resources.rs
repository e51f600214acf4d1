//! Resource limits and metrics end to end: cgroup limits from `resources` (and the server's
//! default size), an over-limit allocation killed and reported, CPU capped, and the metrics
//! endpoints fed by the server's sampler.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::{
    sync::OnceLock,
    time::{Duration, Instant},
};

use porter_sandbox::{
    LogsQuery, Porter, Sandbox,
    types::{SandboxMetric, SandboxResourcesSpec, SandboxSpec, StatusResponsePhase},
};
use support::{TestServer, start_server, wait_started};

const START: Duration = Duration::from_secs(30);

/// A server sampling every 200 ms, with a small default size.
fn server() -> &'static TestServer {
    static SERVER: OnceLock<TestServer> = OnceLock::new();
    SERVER.get_or_init(|| {
        let (sender, receiver) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let args = [
                "--metrics-interval",
                "0.2",
                "--default-cpu",
                "1500m",
                "--default-memory",
                "768Mi",
            ];
            sender.send(start_server(&args)).unwrap();
            loop {
                std::thread::park();
            }
        });
        receiver.recv().unwrap()
    })
}

fn sized(cpu: Option<&str>, memory: Option<&str>) -> SandboxSpec {
    SandboxSpec::new("host").command(["sleep", "300"]).resources(SandboxResourcesSpec {
        cpu: cpu.map(Into::into),
        memory: memory.map(Into::into),
    })
}

async fn running(porter: &Porter, spec: SandboxSpec) -> Sandbox {
    let sandbox = porter.sandboxes().create(spec).await.unwrap();
    assert_eq!(wait_started(&sandbox, START).await, StatusResponsePhase::Running);
    sandbox
}

#[tokio::test]
async fn an_allocation_over_the_memory_limit_is_killed_and_reported() {
    let porter = server().client();
    let sandbox = running(&porter, sized(None, Some("64Mi"))).await;
    let limit = sandbox
        .exec(["cat", "/sys/fs/cgroup/memory.max"])
        .await
        .ok()
        .filter(|o| o.exit_code == 0)
        .map(|o| o.stdout);
    if let Some(limit) = limit {
        assert_eq!(limit.trim(), (64u64 << 20).to_string());
    }
    // Within the limit: fine.
    let small = sandbox.exec(["python3", "-c", "b = bytearray(16 << 20); print(len(b))"]).await;
    assert_eq!(small.unwrap().stdout, "16777216\n");
    // 200 MiB under 64 MiB: the kernel's OOM killer ends it, and the log says why.
    let big = sandbox
        .exec([
            "python3",
            "-c",
            "b = bytearray(200 << 20); b[::4096] = b'x' * len(b[::4096]); print('survived')",
        ])
        .await
        .unwrap();
    assert_eq!(big.exit_code, 137, "{big:?}");
    assert!(!big.stdout.contains("survived"));
    let logs = sandbox.logs(LogsQuery::new()).await.unwrap();
    assert!(
        logs.iter().any(|l| l.line.contains("OOM killer") && l.line.contains("64Mi")),
        "{logs:?}"
    );
    // The sandbox itself survives an exec's OOM kill.
    assert_eq!(sandbox.refresh().await.unwrap().phase, StatusResponsePhase::Running);
    sandbox.terminate().await.unwrap();
}

#[tokio::test]
async fn the_cpu_limit_caps_cpu_time() {
    let porter = server().client();
    let sandbox = running(&porter, sized(Some("250m"), None)).await;
    // Spin for 2 s of wall time; a quarter core gets about 0.5 s of CPU time.
    let script = "import os, time\nend = time.monotonic() + 2\nwhile time.monotonic() < end: pass\n\
                  t = os.times()\nprint(t.user + t.system)";
    let out = sandbox.exec(["python3", "-c", script]).await.unwrap();
    assert_eq!(out.exit_code, 0, "{out:?}");
    let cpu: f64 = out.stdout.trim().parse().unwrap();
    assert!(cpu < 1.0, "a 250m sandbox used {cpu} s of CPU in 2 s");
    sandbox.terminate().await.unwrap();
}

#[tokio::test]
async fn metrics_come_from_samples_of_the_running_sandbox() {
    let porter = server().client();
    let api = porter.raw().sandboxes();
    let spec = SandboxSpec::new("host")
        .command(["sh", "-c", "while :; do :; done"])
        .resources(SandboxResourcesSpec { cpu: Some("500m".into()), memory: Some("256Mi".into()) });
    let sandbox = porter.sandboxes().create(spec).await.unwrap();
    // Not sampled yet: no data, zeroed numbers, the window clamped to at least 3 minutes.
    let early = api.get_sandbox_metrics_summary(sandbox.id(), None).await.unwrap();
    assert!(!early.has_data, "{early:?}");
    assert_eq!(early.window_seconds, 3600);
    let short = api.get_sandbox_metrics_summary(sandbox.id(), Some("10s")).await.unwrap();
    assert_eq!(short.window_seconds, 180);
    assert_eq!(wait_started(&sandbox, START).await, StatusResponsePhase::Running);

    // Generous: on a loaded machine the loop may get its half core only now and then.
    let deadline = Instant::now() + Duration::from_secs(60);
    let summary = loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let summary = api.get_sandbox_metrics_summary(sandbox.id(), Some("5m")).await.unwrap();
        if (summary.has_data && summary.cpu_cores_p90 > 0.2) || Instant::now() > deadline {
            break summary;
        }
    };
    assert!(summary.has_data, "{summary:?}");
    assert!((summary.cpu_limit_cores - 0.5).abs() < 1e-9, "{summary:?}");
    assert_eq!(summary.mem_limit_bytes, 256 << 20);
    assert!(summary.cpu_cores_p90 > 0.2 && summary.cpu_cores_p90 < 0.7, "{summary:?}");
    assert!(summary.cpu_util_p90_pct > 40.0 && summary.cpu_util_p90_pct < 140.0, "{summary:?}");
    assert!(summary.mem_bytes_p50 > 0 && summary.mem_bytes_p90 >= summary.mem_bytes_p50);
    assert!(summary.mem_util_p50_pct > 0.0 && summary.mem_util_p50_pct < 100.0);

    // A few samples (one every 200 ms) for the series: awaited, within a bound.
    let (start, end) = ("1h", "2100-01-01T00:00:00Z");
    let deadline = Instant::now() + Duration::from_secs(60);
    let cpu = loop {
        let cpu = api
            .get_sandbox_metrics(sandbox.id(), &SandboxMetric::CpuUsage, start, end)
            .await
            .unwrap();
        let points =
            cpu.results.first().and_then(|r| r.series.first()).map(|s| s.time_series.len());
        if points.is_some_and(|n| n >= 2) || Instant::now() > deadline {
            break cpu;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(cpu.results.len(), 1);
    let series = &cpu.results[0].series[0];
    assert_eq!(series.unit.as_deref(), Some("cores"));
    assert_eq!(series.labels.as_ref().unwrap()["sandbox_id"], sandbox.id());
    assert!(series.time_series.len() >= 2, "{series:?}");
    let times: Vec<&str> = series.time_series.iter().map(|p| p.timestamp_utc.as_str()).collect();
    assert!(times.windows(2).all(|w| w[0] < w[1]), "chronological: {times:?}");
    assert!(series.time_series.iter().any(|p| p.value > 0.2));

    for (metric, unit, value) in [
        (SandboxMetric::CpuReserved, "cores", Some(0.5)),
        (SandboxMetric::MemoryReserved, "bytes", Some(f64::from(256u32 << 20))),
        (SandboxMetric::MemoryUsage, "bytes", None),
        (SandboxMetric::NetworkRx, "bytes/sec", None),
        (SandboxMetric::NetworkTx, "bytes/sec", None),
    ] {
        let response = api.get_sandbox_metrics(sandbox.id(), &metric, start, end).await.unwrap();
        let series = &response.results[0].series[0];
        assert_eq!(series.unit.as_deref(), Some(unit), "{metric:?}");
        assert!(!series.time_series.is_empty(), "{metric:?}");
        if let Some(value) = value {
            assert!(
                series.time_series.iter().all(|p| (p.value - value).abs() < 1e-6),
                "{metric:?}"
            );
        }
    }
    // The window excludes everything: no points, still one series.
    let none = api
        .get_sandbox_metrics(
            sandbox.id(),
            &SandboxMetric::CpuUsage,
            "2000-01-01T00:00:00Z",
            "2000-01-02T00:00:00Z",
        )
        .await
        .unwrap();
    assert!(none.results[0].series[0].time_series.is_empty());
    sandbox.terminate().await.unwrap();
}
