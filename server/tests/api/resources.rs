//! The server's default size and the validation of metric queries. (Limits enforced and usage
//! measured need real containers: `cli/tests/api_resources.rs`.)

use std::time::Duration;

use porter_sandbox::types::{SandboxSpec, StatusResponsePhase};
use porter_sandbox_server::runtime::fake::FakeRuntime;

use crate::{support, wait_started};

#[tokio::test]
async fn the_default_size_applies_and_metric_queries_are_validated() {
    let fake = FakeRuntime::new();
    let server = &support::serve(&fake, |options| {
        options.metrics_interval = Duration::from_millis(200);
        options.default_cpu_millis = 1500;
        options.default_memory_bytes = 768 << 20;
    })
    .await;
    let porter = server.client();
    let sandbox = porter
        .sandboxes()
        .create(SandboxSpec::new("host").command(["sleep", "300"]))
        .await
        .unwrap();
    assert_eq!(wait_started(&sandbox).await, StatusResponsePhase::Running);
    let limits = fake.launches().pop().unwrap().limits;
    assert_eq!((limits.cpu_millis, limits.memory_bytes), (Some(1500), Some(768 << 20)));
    let summary =
        porter.raw().sandboxes().get_sandbox_metrics_summary(sandbox.id(), None).await.unwrap();
    assert!((summary.cpu_limit_cores - 1.5).abs() < 1e-9, "{summary:?}");
    assert_eq!(summary.mem_limit_bytes, 768 << 20);

    let path = format!("/v1/sandbox/{}/metrics", sandbox.id());
    for (query, status, word) in [
        ("start_time_utc=1h&end_time_utc=now", 400, "metric"),
        ("metric=gpu&start_time_utc=1h&end_time_utc=2100-01-01T00:00:00Z", 400, "gpu"),
        ("metric=cpu_usage&end_time_utc=2100-01-01T00:00:00Z", 400, "start_time_utc"),
        (
            "metric=cpu_usage&start_time_utc=yesterday&end_time_utc=2100-01-01T00:00:00Z",
            400,
            "start_time_utc",
        ),
        // The official Python SDK's enum form is understood.
        (
            "metric=SandboxMetric.CPU_USAGE&start_time_utc=1h&end_time_utc=2100-01-01T00:00:00Z",
            200,
            "series",
        ),
    ] {
        let (code, body) =
            get(&server.base_url, &server.authorization(), &format!("{path}?{query}")).await;
        assert_eq!(code, status, "{query}: {body}");
        assert!(body.contains(word), "{query}: {body}");
    }
    let missing = porter.raw().sandboxes().get_sandbox_metrics_summary("sb-nope", None).await;
    assert_eq!(missing.unwrap_err().status(), Some(404));
    sandbox.terminate().await.unwrap();
}

/// A bare HTTP/1.1 GET (the client crates would not send a request missing a parameter).
async fn get(base_url: &str, authorization: &str, path: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let host = base_url.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(host).await.unwrap();
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: {authorization}\r\n\
         Connection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    let code = response.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = response.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default();
    (code, body)
}
