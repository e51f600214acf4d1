//! Benchmark of processes on the local server (not a test): the one-shot exec round trip, a
//! process's start → first output byte, the latency from a byte being written in the sandbox
//! to a following client receiving it, and 200 processes streaming at once in one sandbox.
//! Needs root and crun, like the server.
//!
//! `cargo run --release -p porter-sandbox-cli --example process_bench [-- SAMPLES]`
#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)]

#[path = "support/bench.rs"]
mod bench;

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bench::{BenchServer, percentile};
use futures_util::StreamExt;
use porter_sandbox::{
    ProcessSpec,
    types::{SandboxSpec, StatusResponsePhase},
};

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn main() {
    // The server runs this executable as each process's supervisor, as it runs the CLI's.
    let mut args = std::env::args_os();
    if args.nth(1).is_some_and(|a| a == porter_sandbox_server::process::SUPERVISOR_ARG) {
        let dir = args.next().expect("the supervisor's directory");
        std::process::exit(porter_sandbox_server::process::supervisor::main(std::path::Path::new(
            &dir,
        )));
    }
    let samples: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(50);
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(bench(samples));
}

async fn bench(samples: usize) {
    let server = BenchServer::start().await;
    let porter = &server.porter;
    let sandbox = porter
        .sandboxes()
        .create(SandboxSpec::new("host").command(["sleep", "600"]))
        .await
        .unwrap();
    while sandbox.refresh().await.unwrap().phase != StatusResponsePhase::Running {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // Warm-up: the discovery call and the first crun exec.
    sandbox.exec(["true"]).await.unwrap();
    sandbox.start(ProcessSpec::new(["true"])).await.unwrap().wait(None).await.unwrap();

    let mut exec = Vec::new();
    for _ in 0..samples {
        let started = Instant::now();
        assert_eq!(sandbox.exec(["true"]).await.unwrap().exit_code, 0);
        exec.push(started.elapsed());
    }

    let mut first_byte = Vec::new();
    let mut to_end = Vec::new();
    for _ in 0..samples {
        let started = Instant::now();
        let process = sandbox.start(ProcessSpec::new(["echo", "hi"])).await.unwrap();
        let mut output = process.output(0);
        output.next().await.unwrap().unwrap();
        first_byte.push(started.elapsed());
        while output.next().await.is_some() {}
        to_end.push(started.elapsed());
    }

    // Each line carries the time the process wrote it (the sandbox shares the host's clock).
    let script = "for i in $(seq 1 SAMPLES); do date +%s%N; sleep 0.02; done"
        .replace("SAMPLES", &samples.to_string());
    let process = sandbox.start(ProcessSpec::new(["sh", "-c", script.as_str()])).await.unwrap();
    let mut output = process.output(0);
    let mut pending = Vec::new();
    let mut delivery = Vec::new();
    while let Some(chunk) = output.next().await {
        let received = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos();
        pending.extend_from_slice(&chunk.unwrap().data);
        while let Some(end) = pending.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = pending.drain(..=end).collect();
            let written: u128 = String::from_utf8_lossy(&line).trim().parse().unwrap();
            delivery.push(Duration::from_nanos(received.saturating_sub(written) as u64));
        }
    }

    let started = Instant::now();
    let mut readers = Vec::new();
    for n in 0..200u64 {
        let script = format!("seq {} {}", n * 10_000 + 1, n * 10_000 + 10_000);
        let process = sandbox.start(ProcessSpec::new(["sh", "-c", script.as_str()])).await.unwrap();
        readers.push(tokio::spawn(async move {
            let mut bytes = 0usize;
            let mut output = process.output(0);
            while let Some(chunk) = output.next().await {
                bytes += chunk.unwrap().data.len();
            }
            bytes
        }));
    }
    let mut total = 0;
    for reader in readers {
        total += reader.await.unwrap();
    }
    let concurrent = started.elapsed();
    let expected: usize = (0..200u64)
        .map(|n| {
            (n * 10_000 + 1..=n * 10_000 + 10_000).map(|v| v.to_string().len() + 1).sum::<usize>()
        })
        .sum();
    assert_eq!(total, expected, "bytes lost across 200 concurrent streams");

    sandbox.terminate().await.unwrap();
    server.stop().await;

    println!("samples: {samples}");
    println!(
        "exec round trip (true):           p50 {:.1} ms, p95 {:.1} ms",
        ms(percentile(&mut exec, 0.5)),
        ms(percentile(&mut exec, 0.95))
    );
    println!(
        "process start -> first byte:      p50 {:.1} ms, p95 {:.1} ms",
        ms(percentile(&mut first_byte, 0.5)),
        ms(percentile(&mut first_byte, 0.95))
    );
    println!(
        "process start -> end of output:   p50 {:.1} ms, p95 {:.1} ms",
        ms(percentile(&mut to_end, 0.5)),
        ms(percentile(&mut to_end, 0.95))
    );
    println!(
        "write in sandbox -> client reads: p50 {:.2} ms, p95 {:.2} ms",
        ms(percentile(&mut delivery, 0.5)),
        ms(percentile(&mut delivery, 0.95))
    );
    println!(
        "200 concurrent streams:           {:.2} s for {:.1} MB, none lost ({:.0} MB/s)",
        concurrent.as_secs_f64(),
        total as f64 / 1e6,
        total as f64 / 1e6 / concurrent.as_secs_f64()
    );
}
