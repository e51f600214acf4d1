//! The OpenAPI document end to end: `GET /openapi.json` needs no key and serves the committed
//! `spec/openapi.json`; every operation it documents reaches a handler.

use porter_sandbox_server::runtime::fake::FakeRuntime;
use serde_json::Value;

use crate::support::{self, Served};

/// A served service whose processes extension is on (its supervisor is never started here:
/// every process request addresses a sandbox that does not exist).
async fn served() -> Served {
    support::serve(&FakeRuntime::new(), |options| {
        options.process_supervisor = Some("/nonexistent/porter-sandbox".into());
    })
    .await
}

/// A bare HTTP/1.1 request (with the harness's key when `auth`); the status, the headers and
/// the body.
async fn request(
    server: &Served,
    method: &str,
    target: &str,
    auth: bool,
    content_type: &str,
    body: &[u8],
) -> (u16, String, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let host = server.base_url.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(host).await.unwrap();
    let authorization =
        if auth { format!("Authorization: {}\r\n", server.authorization()) } else { String::new() };
    let head = format!(
        "{method} {target} HTTP/1.1\r\nHost: {host}\r\n{authorization}Content-Type: \
         {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(body).await.unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.unwrap();
    let response = String::from_utf8_lossy(&response).into_owned();
    let code = response.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let (headers, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    (code, headers.to_ascii_lowercase(), body.to_owned())
}

fn committed() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../spec/openapi.json");
    std::fs::read_to_string(path).unwrap()
}

#[tokio::test]
async fn the_document_is_served_without_a_key_and_is_the_committed_one() {
    let server = &served().await;
    let (code, headers, body) =
        request(server, "GET", "/openapi.json", false, "application/json", b"").await;
    assert_eq!(code, 200, "{body}");
    assert!(headers.contains("content-type: application/json"), "{headers}");
    assert_eq!(body, committed(), "GET /openapi.json differs from spec/openapi.json");
    // Only the health check and the document are open.
    let (code, _, _) = request(server, "GET", "/readyz", false, "application/json", b"").await;
    assert_eq!(code, 401);
}

#[tokio::test]
async fn every_documented_operation_reaches_a_handler() {
    let server = &served().await;
    let doc: Value = serde_json::from_str(&committed()).unwrap();
    let mut checked = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let target = path.replace("{id}", "no-such-id");
            let (content_type, body): (&str, &[u8]) =
                match operation["requestBody"]["content"].as_object() {
                    Some(c) if c.contains_key("application/json") => ("application/json", b"{}"),
                    Some(_) => ("application/octet-stream", b"bytes"),
                    None => ("application/json", b""),
                };
            let method = method.to_ascii_uppercase();
            let (code, _, text) = request(server, &method, &target, true, content_type, body).await;
            let documented = operation["responses"].as_object().unwrap();
            assert!(
                documented.contains_key(&code.to_string()),
                "{method} {target} answered {code}, which the document does not list: {text}"
            );
            assert!(!text.contains("no such endpoint"), "{method} {target} is not routed: {text}");
            assert_ne!(code, 405, "{method} {target} is not routed: {text}");
            checked += 1;
        }
    }
    assert_eq!(checked, 37);
}
