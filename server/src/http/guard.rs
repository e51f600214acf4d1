//! The front door, before any handler runs: who may call (API keys), from where (`Host` and
//! `Origin`, against DNS rebinding and cross-site requests), and with what (JSON bodies only as
//! `application/json`, of bounded size).

use std::{net::SocketAddr, sync::Arc};

use axum::{
    extract::{Request, State},
    http::{HeaderMap, Method, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};

use super::AppState;
use crate::http::error::ApiError;

/// Largest JSON request body accepted (file uploads are streamed and unlimited).
pub const JSON_BODY_LIMIT: usize = 1024 * 1024;

/// Routes anyone may call: they reveal nothing and health probes carry no key.
const OPEN_PATHS: &[&str] = &["/healthz", "/openapi.json"];

/// Which `Host` values requests may carry.
#[derive(Debug, Clone)]
pub struct RequestGuard {
    listen: Option<SocketAddr>,
    allowed_hosts: Vec<String>,
}

impl RequestGuard {
    /// A guard for a server listening on `listen`, also accepting `allowed_hosts` (`name` or
    /// `name:port`, case-insensitive).
    #[must_use]
    pub fn new(listen: SocketAddr, allowed_hosts: Vec<String>) -> Self {
        let allowed_hosts = allowed_hosts.into_iter().map(|h| h.to_ascii_lowercase()).collect();
        Self { listen: Some(listen), allowed_hosts }
    }

    /// A guard that accepts loopback names and IP literals only (in-process routers).
    #[must_use]
    pub fn loopback() -> Self {
        Self { listen: None, allowed_hosts: Vec::new() }
    }

    /// Whether a `Host` header value (`name[:port]`) addresses this server.
    fn host_allowed(&self, host: &str) -> bool {
        let host = host.trim().to_ascii_lowercase();
        if self.allowed_hosts.contains(&host) {
            return true;
        }
        let name = split_port(&host);
        if self.allowed_hosts.iter().any(|allowed| allowed == name) {
            return true;
        }
        if name == "localhost" || name.ends_with(".localhost") {
            return true;
        }
        // DNS rebinding needs a DNS name: an IP literal is never rebound. Literals are
        // accepted when they are loopback, the listen address, or the server listens on all
        // addresses.
        match name.trim_start_matches('[').trim_end_matches(']').parse::<std::net::IpAddr>() {
            Ok(ip) => {
                ip.is_loopback()
                    || self
                        .listen
                        .is_none_or(|listen| listen.ip().is_unspecified() || listen.ip() == ip)
            }
            Err(_) => false,
        }
    }
}

/// `name` of `name:port` (IPv6 literals keep their brackets).
fn split_port(host: &str) -> &str {
    if host.starts_with('[') {
        return host.split_once(']').map_or(host, |(name, _)| &host[..=name.len()]);
    }
    match host.rsplit_once(':') {
        Some((name, port)) if port.chars().all(|c| c.is_ascii_digit()) => name,
        _ => host,
    }
}

/// Host, Origin and Content-Type checks.
pub async fn check_request(
    State(guard): State<Arc<RequestGuard>>,
    request: Request,
    next: Next,
) -> Response {
    match refuse(&guard, request.method(), request.uri().path(), request.headers()) {
        Some(error) => error.into_response(),
        None => next.run(request).await,
    }
}

fn refuse(
    guard: &RequestGuard,
    method: &Method,
    path: &str,
    headers: &HeaderMap,
) -> Option<ApiError> {
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    if let Some(host) = host {
        if !guard.host_allowed(host) {
            return Some(ApiError::new(
                StatusCode::MISDIRECTED_REQUEST,
                format!(
                    "this server does not answer to the host name {host:?}: address it by its \
                     listen address or a loopback name, or start it with --allowed-host {}",
                    split_port(&host.to_ascii_lowercase())
                ),
            ));
        }
    }
    if let Some(origin) = headers.get(header::ORIGIN) {
        let origin = origin.to_str().unwrap_or("");
        let same = host.is_some_and(|host| {
            ["http://", "https://"]
                .iter()
                .any(|scheme| origin.eq_ignore_ascii_case(&format!("{scheme}{host}")))
        });
        if !same {
            return Some(ApiError::new(
                StatusCode::FORBIDDEN,
                format!(
                    "cross-origin requests are refused (Origin {origin:?}): web pages cannot \
                     drive this server; call it from a program or the CLI"
                ),
            ));
        }
    }
    let has_body = matches!(*method, Method::POST | Method::PUT | Method::PATCH);
    // Raw bodies: file uploads and process input (which also need the key, so a page's form
    // post still gets nowhere).
    let uploads = path.ends_with("/files/upload")
        || path.ends_with("/files/content")
        || (path.contains("/processes/") && path.ends_with("/stdin"));
    if has_body && !uploads {
        let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
        let empty = headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|len| len.trim() == "0");
        match content_type {
            Some(value) if is_json(value) => {}
            None if empty
                || headers.get(header::TRANSFER_ENCODING).is_none() && !has_length(headers) => {}
            other => {
                return Some(ApiError::new(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    format!(
                        "request bodies must be JSON sent with Content-Type: application/json \
                         (got {}); set that header",
                        other.map_or_else(|| "no Content-Type".to_owned(), |v| format!("{v:?}"))
                    ),
                ));
            }
        }
        let length = headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        if length.is_some_and(|len| len > JSON_BODY_LIMIT as u64) {
            return Some(ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!(
                    "the request body is larger than this endpoint's limit of {} KiB; send a \
                     smaller JSON object (file contents go through the files API, which streams)",
                    JSON_BODY_LIMIT / 1024
                ),
            ));
        }
    }
    None
}

fn has_length(headers: &HeaderMap) -> bool {
    headers.get(header::CONTENT_LENGTH).is_some()
}

/// `application/json`, optionally with parameters, or an `application/*+json` type.
fn is_json(value: &str) -> bool {
    let essence = value.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// Every request but the open ones needs `Authorization: Bearer <one of the keys>` (the scheme
/// is case-insensitive, as RFC 9110 says).
pub async fn authenticate(
    State(service): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let keys = service.api_keys();
    if keys.is_empty() || OPEN_PATHS.contains(&request.uri().path()) {
        return next.run(request).await;
    }
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(bearer_token);
    match presented {
        Some(key) if keys.iter().any(|k| constant_time_eq(k.as_bytes(), key.as_bytes())) => {
            next.run(request).await
        }
        Some(_) => ApiError::new(
            StatusCode::UNAUTHORIZED,
            "the API key is not valid for this server: send one of the keys it was started with",
        )
        .into_response(),
        None => ApiError::new(
            StatusCode::UNAUTHORIZED,
            "this server requires an API key: send Authorization: Bearer <key> (set \
             PORTER_SANDBOX_API_KEY for the SDKs; a local server prints where its key is, and \
             clients of the user who started it find it on their own)",
        )
        .into_response(),
    }
}

/// The token of a `Bearer` credential, the scheme matched case-insensitively.
fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim()).filter(|t| !t.is_empty())
}

/// Compares secrets without leaking the position of the first difference through timing.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, value.parse().unwrap());
        }
        map
    }

    fn guard() -> RequestGuard {
        RequestGuard::new("127.0.0.1:8080".parse().unwrap(), vec!["sandbox.internal".into()])
    }

    fn status(method: Method, path: &str, pairs: &[(&'static str, &str)]) -> Option<u16> {
        refuse(&guard(), &method, path, &headers(pairs)).map(|e| e.status.as_u16())
    }

    #[test]
    fn hosts_other_than_the_server_are_refused() {
        assert_eq!(status(Method::GET, "/v1/sandbox", &[("host", "127.0.0.1:8080")]), None);
        assert_eq!(status(Method::GET, "/v1/sandbox", &[("host", "localhost:8080")]), None);
        assert_eq!(status(Method::GET, "/v1/sandbox", &[("host", "[::1]:8080")]), None);
        assert_eq!(status(Method::GET, "/v1/sandbox", &[("host", "sandbox.internal:9")]), None);
        assert_eq!(status(Method::GET, "/v1/sandbox", &[("host", "evil.example:8080")]), Some(421));
        assert_eq!(status(Method::GET, "/v1/sandbox", &[("host", "10.1.2.3:8080")]), Some(421));
        let any = RequestGuard::new("0.0.0.0:8080".parse().unwrap(), Vec::new());
        assert!(any.host_allowed("10.1.2.3:8080"));
        assert!(!any.host_allowed("rebind.example:8080"));
    }

    #[test]
    fn foreign_origins_are_refused() {
        let host = ("host", "127.0.0.1:8080");
        assert_eq!(
            status(Method::GET, "/v1/sandbox", &[host, ("origin", "http://127.0.0.1:8080")]),
            None
        );
        assert_eq!(
            status(Method::GET, "/v1/sandbox", &[host, ("origin", "https://evil.example")]),
            Some(403)
        );
        assert_eq!(status(Method::GET, "/v1/sandbox", &[host, ("origin", "null")]), Some(403));
    }

    #[test]
    fn json_bodies_need_the_json_content_type() {
        let host = ("host", "127.0.0.1:8080");
        let run = "/v1/sandbox/run";
        let json = ("content-type", "application/json; charset=utf-8");
        assert_eq!(status(Method::POST, run, &[host, json, ("content-length", "2")]), None);
        assert_eq!(
            status(
                Method::POST,
                run,
                &[host, ("content-type", "text/plain"), ("content-length", "2")]
            ),
            Some(415)
        );
        assert_eq!(status(Method::POST, run, &[host, ("content-length", "2")]), Some(415));
        assert_eq!(status(Method::POST, "/v1/volume", &[host, ("content-length", "0")]), None);
        assert_eq!(
            status(
                Method::PUT,
                "/v1/volume/v/files/upload",
                &[host, ("content-type", "text/plain")]
            ),
            None
        );
        assert_eq!(
            status(Method::POST, run, &[host, json, ("content-length", "99999999")]),
            Some(413)
        );
    }

    #[test]
    fn the_bearer_scheme_is_case_insensitive() {
        assert_eq!(bearer_token("Bearer abc"), Some("abc"));
        assert_eq!(bearer_token("bearer abc"), Some("abc"));
        assert_eq!(bearer_token("BEARER  abc "), Some("abc"));
        assert_eq!(bearer_token("Basic abc"), None);
        assert_eq!(bearer_token("Bearer "), None);
    }
}
