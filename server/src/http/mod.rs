//! HTTP routes: one file per resource, all answering the API's JSON shapes and status codes.

pub mod error;
mod extract;
mod files;
mod guard;
mod health;
mod processes;
mod sandboxes;
mod snapshots;
mod volumes;

use std::sync::Arc;

use axum::{
    Router,
    extract::DefaultBodyLimit,
    http::Method,
    middleware,
    routing::{get, post, put},
};

pub use extract::enum_value;
pub use guard::{JSON_BODY_LIMIT, RequestGuard};

use crate::service::Service;
use error::ApiError;

/// Shared state of every handler.
pub type AppState = Arc<Service>;

/// The complete API router, answering loopback names and IP literals.
pub fn router(service: AppState) -> Router {
    router_with(service, RequestGuard::loopback())
}

/// The complete API router behind `guard`.
pub fn router_with(service: AppState, guard: RequestGuard) -> Router {
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/openapi.json", get(crate::openapi::serve))
        .route("/v1/sandbox", get(sandboxes::list))
        .route("/v1/sandbox/counts", get(sandboxes::counts))
        .route("/v1/sandbox/run", post(sandboxes::create))
        .route("/v1/sandbox/lookup", get(sandboxes::lookup))
        .route("/v1/sandbox/{id}", get(sandboxes::get).delete(sandboxes::terminate))
        .route("/v1/sandbox/{id}/logs", get(sandboxes::logs))
        .route("/v1/sandbox/{id}/exec", post(sandboxes::exec))
        .route("/v1/sandbox/{id}/lease", post(sandboxes::renew_lease))
        .route("/v1/extensions", get(processes::extensions))
        .route("/v1/sandbox/{id}/processes", get(processes::list).post(processes::start))
        .route("/v1/sandbox/{id}/processes/{exec_id}", get(processes::status))
        .route("/v1/sandbox/{id}/processes/{exec_id}/output", get(processes::output))
        .route("/v1/sandbox/{id}/processes/{exec_id}/stdin", post(processes::stdin))
        .route("/v1/sandbox/{id}/processes/{exec_id}/stdin/close", post(processes::close_stdin))
        .route("/v1/sandbox/{id}/processes/{exec_id}/signal", post(processes::signal))
        .route("/v1/sandbox/{id}/processes/{exec_id}/resize", post(processes::resize))
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
        // JSON bodies are bounded; uploads read the body as a stream, which this does not cap.
        .layer(DefaultBodyLimit::max(JSON_BODY_LIMIT))
        .layer(middleware::from_fn_with_state(service.clone(), guard::authenticate))
        .layer(middleware::from_fn_with_state(Arc::new(guard), guard::check_request))
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
