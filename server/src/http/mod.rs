//! HTTP routes: one file per resource, all answering the API's JSON shapes and status codes.

mod extract;
mod files;
mod health;
mod sandboxes;
mod snapshots;
mod volumes;

use std::sync::Arc;

use axum::{
    Router,
    extract::{DefaultBodyLimit, Request, State},
    http::{Method, header},
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::{get, post, put},
};

pub use extract::enum_value;

use crate::{error::ApiError, service::Service};

/// Shared state of every handler.
pub type AppState = Arc<Service>;

/// The complete API router.
pub fn router(service: AppState) -> Router {
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/v1/sandbox", get(sandboxes::list))
        .route("/v1/sandbox/counts", get(sandboxes::counts))
        .route("/v1/sandbox/run", post(sandboxes::create))
        .route("/v1/sandbox/lookup", get(sandboxes::lookup))
        .route("/v1/sandbox/{id}", get(sandboxes::get).delete(sandboxes::terminate))
        .route("/v1/sandbox/{id}/logs", get(sandboxes::logs))
        .route("/v1/sandbox/{id}/exec", post(sandboxes::exec))
        .route("/v1/sandbox/{id}/metrics-summary", get(sandboxes::metrics_summary))
        .route("/v1/sandbox/{id}/metrics", get(sandboxes::metrics))
        .route("/v1/sandbox/{id}/snapshot", post(snapshots::create))
        .route("/v1/snapshot", get(snapshots::list))
        .route("/v1/snapshot/{id}", get(snapshots::get).delete(snapshots::delete))
        .route("/v1/volume", get(volumes::list).post(volumes::create))
        .route("/v1/volume/lookup", get(volumes::lookup))
        .route("/v1/volume/{id}", get(volumes::get).delete(volumes::delete))
        .route("/v1/volume/{id}/files", get(files::list))
        .route("/v1/volume/{id}/files/content", get(files::read).put(files::redirect_write))
        .route("/v1/volume/{id}/files/upload", put(files::write))
        .route("/v1/volume/{id}/files/move", post(files::move_entry))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::disable())
        .layer(middleware::from_fn_with_state(service.clone(), authenticate))
        .with_state(service)
}

async fn not_found(method: Method, uri: axum::http::Uri) -> ApiError {
    ApiError::not_found(format!("no such endpoint: {method} {}", uri.path()))
}

async fn method_not_allowed(method: Method, uri: axum::http::Uri) -> ApiError {
    ApiError::new(
        axum::http::StatusCode::METHOD_NOT_ALLOWED,
        format!("{method} is not allowed on {}", uri.path()),
    )
}

/// With API keys configured, every request needs `Authorization: Bearer <one of them>`.
async fn authenticate(State(service): State<AppState>, request: Request, next: Next) -> Response {
    let keys = service.api_keys();
    if keys.is_empty() {
        return next.run(request).await;
    }
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    match presented {
        Some(key) if keys.iter().any(|k| constant_time_eq(k.as_bytes(), key.as_bytes())) => {
            next.run(request).await
        }
        Some(_) => ApiError::new(
            axum::http::StatusCode::UNAUTHORIZED,
            "the API key is not valid for this server: send one of the keys it was started with",
        )
        .into_response(),
        None => ApiError::new(
            axum::http::StatusCode::UNAUTHORIZED,
            "this server requires an API key: send Authorization: Bearer <key> \
             (set PORTER_SANDBOX_API_KEY for the SDKs)",
        )
        .into_response(),
    }
}

/// Compares secrets without leaking the position of the first difference through timing.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
