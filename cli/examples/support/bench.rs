//! What the benchmarks share: an in-process server with a key, a client of it, percentiles.

use std::time::Duration;

use porter_sandbox::Porter;
use porter_sandbox_server::serve::{self, ServeOptions};

/// The key of the benchmark's own server.
const BENCH_KEY: &str = "bench-key-0123456789abcdef";

/// The `p` quantile (0–1) of `samples` (sorted in place).
pub fn percentile(samples: &mut [Duration], p: f64) -> Duration {
    samples.sort();
    let rank = ((samples.len() as f64 - 1.0) * p).round() as usize;
    samples[rank]
}

/// A local server on a free port and a temporary data directory, served in this process.
pub struct BenchServer {
    /// A client of it.
    pub porter: Porter,
    stop: tokio::sync::oneshot::Sender<()>,
    serving: tokio::task::JoinHandle<Result<(), String>>,
    _dir: tempfile::TempDir,
}

impl BenchServer {
    /// Starts the server (ephemeral, one key).
    pub async fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let server = serve::bind(ServeOptions {
            ephemeral: true,
            auth: serve::Auth::Keys(vec![BENCH_KEY.to_owned()]),
            ..ServeOptions::new("127.0.0.1:0".parse().unwrap(), dir.path().to_path_buf())
        })
        .await
        .unwrap();
        let base = format!("http://{}", server.addr);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let serving = tokio::spawn(server.serve(async move {
            let _ = stopped.await;
        }));
        let porter = Porter::builder().base_url(&base).api_key(BENCH_KEY).build().unwrap();
        Self { porter, stop, serving, _dir: dir }
    }

    /// Stops the server and waits for it.
    pub async fn stop(self) {
        let _ = self.stop.send(());
        self.serving.await.unwrap().unwrap();
    }
}
