//! A service on the fake runtime with its router in-process: requests go through the whole
//! HTTP stack (guard, extractors, status codes) without a socket, a container or root.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::{
    path::Path,
    sync::Arc,
    time::{Duration, Instant},
};

use axum::{
    Router,
    body::Body,
    http::{Method, Request, StatusCode, header},
};
use porter_sandbox_server::{
    http::router,
    runtime::fake::FakeRuntime,
    service::{Service, ServiceOptions},
};
use serde_json::Value;
use tower::ServiceExt;

/// How long a condition may take to come true before a test fails: generous for a loaded
/// machine, as passing tests never wait for it.
pub const PATIENCE: Duration = Duration::from_secs(20);

/// A service over `data` and a fake runtime, with its router.
pub struct FakeServer {
    pub service: Arc<Service>,
    pub fake: FakeRuntime,
    router: Router,
}

/// Options for tests: no size-limited filesystems (they need root), a quick reaper.
pub fn options(data: &Path) -> ServiceOptions {
    ServiceOptions {
        reaper_interval: Duration::from_millis(20),
        sandbox_disk_bytes: None,
        volume_size_bytes: None,
        ..ServiceOptions::new(data.to_path_buf())
    }
}

/// Starts a service over `data` on `fake`.
pub async fn start(data: &Path, fake: &FakeRuntime) -> FakeServer {
    start_with(options(data), fake).await
}

/// Starts a service with `options` on `fake`.
pub async fn start_with(options: ServiceOptions, fake: &FakeRuntime) -> FakeServer {
    let service = Service::start(options, Arc::new(fake.clone())).await.unwrap();
    FakeServer { router: router(service.clone()), service, fake: fake.clone() }
}

impl FakeServer {
    /// Sends a request; returns the status and the JSON body (`Null` when empty).
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request =
            Request::builder().method(method).uri(path).header(header::HOST, "127.0.0.1");
        if body.is_some() {
            request = request.header(header::CONTENT_TYPE, "application/json");
        }
        let body = body.map_or_else(Body::empty, |b| Body::from(b.to_string()));
        let response = self.router.clone().oneshot(request.body(body).unwrap()).await.unwrap();
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
        let json = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
        };
        (status, json)
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.call(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::POST, path, Some(body)).await
    }

    pub async fn delete(&self, path: &str) -> (StatusCode, Value) {
        self.call(Method::DELETE, path, None).await
    }

    /// Creates a sandbox from `spec` (202 expected); returns its id.
    pub async fn create(&self, spec: Value) -> String {
        let (status, body) = self.post("/v1/sandbox/run", spec).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
        body["id"].as_str().unwrap().to_owned()
    }

    /// Creates a `host` sandbox running `command`; returns its id.
    pub async fn create_running(&self, command: &[&str]) -> String {
        let id = self.create(serde_json::json!({ "image": "host", "command": command })).await;
        self.wait_phase(&id, "running").await;
        id
    }

    /// The status of sandbox `id`.
    pub async fn status(&self, id: &str) -> Value {
        let (status, body) = self.get(&format!("/v1/sandbox/{id}")).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body
    }

    /// Waits until sandbox `id` is in `phase`; returns its status.
    pub async fn wait_phase(&self, id: &str, phase: &str) -> Value {
        let started = Instant::now();
        loop {
            let status = self.status(id).await;
            if status["phase"] == phase {
                return status;
            }
            assert!(started.elapsed() < PATIENCE, "{id} never reached {phase}: {status}");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// The log lines of sandbox `id`, as text.
    pub async fn log_lines(&self, id: &str) -> Vec<String> {
        let (status, body) = self.get(&format!("/v1/sandbox/{id}/logs")).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["logs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["line"].as_str().unwrap_or_default().to_owned())
            .collect()
    }
}

/// Polls `condition` until it holds (failing the test after [`PATIENCE`]).
pub async fn wait_until(what: &str, mut condition: impl AsyncFnMut() -> bool) {
    let started = Instant::now();
    while !condition().await {
        assert!(started.elapsed() < PATIENCE, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// The API key of [`serve`]d services.
pub const KEY: &str = "fake-runtime-test-key-0123456789";

/// A service on a fake runtime, served on a free loopback port with an API key, for clients
/// that need a URL (the core client, raw HTTP). Its data directory lives as long as it.
pub struct Served {
    pub server: FakeServer,
    pub base_url: String,
    task: tokio::task::JoinHandle<()>,
    _data: tempfile::TempDir,
}

/// Serves a new service over a temporary data directory and `fake`; `configure` adjusts the
/// options of [`options`].
pub async fn serve(fake: &FakeRuntime, configure: impl FnOnce(&mut ServiceOptions)) -> Served {
    let data = tempfile::TempDir::new().unwrap();
    let mut options = options(data.path());
    options.api_keys = vec![KEY.to_owned()];
    configure(&mut options);
    let server = start_with(options, fake).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base_url = format!("http://{}", listener.local_addr().unwrap());
    let app = router(server.service.clone());
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Served { server, base_url, task, _data: data }
}

impl Served {
    /// The core client, with the key.
    pub fn client(&self) -> porter_sandbox::Porter {
        porter_sandbox::Porter::builder().base_url(&self.base_url).api_key(KEY).build().unwrap()
    }

    /// The `Authorization` header value.
    pub fn authorization(&self) -> String {
        format!("Bearer {KEY}")
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        self.task.abort();
    }
}
