//! `porter_sandbox._native`: the Rust core of the Porter Sandbox client, exposed to Python.
//!
//! This crate is deliberately thin. It converts Python values into the core's types and back, and
//! core errors into the pure-Python exception classes of `porter_sandbox._errors`; every request,
//! retry, redirect, timeout, configuration rule and path rule lives in the `porter-sandbox` crate.
//!
//! Each operation exists twice: `name(...)` blocks the calling thread with the GIL released and
//! stays interruptible by Ctrl-C (`run.rs`), and `name_async(...)` returns an `asyncio.Future`
//! whose work runs on the core's shared tokio runtime (`aio.rs`; call it from a coroutine).

mod aio;
mod body;
mod client;
mod convert;
mod errors;
mod process;
mod run;
mod volume;

use pyo3::prelude::*;

/// The version of this package, sent in the User-Agent as `porter-sandbox-python/<version>`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The `porter_sandbox._native` extension module.
#[pymodule]
#[pyo3(name = "_native")]
fn native_module(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", VERSION)?;
    m.add("DEFAULT_CHUNK_BYTES", porter_sandbox::DEFAULT_CHUNK_BYTES)?;
    m.add("UPLOAD_CHUNK_BYTES", porter_sandbox::UPLOAD_CHUNK_BYTES)?;
    m.add("MAX_REDIRECTS", porter_sandbox::MAX_REDIRECTS)?;
    m.add("DEFAULT_MAX_RETRIES", porter_sandbox::retry::DEFAULT_MAX_RETRIES)?;
    m.add("IN_CLUSTER_BASE_URL", porter_sandbox::config::IN_CLUSTER_BASE_URL)?;
    m.add("EXTERNAL_BASE_URL_FORMAT", porter_sandbox::config::EXTERNAL_BASE_URL_FORMAT)?;
    m.add("DEFAULT_TIMEOUT_SECONDS", porter_sandbox::config::DEFAULT_TIMEOUT.as_secs_f64())?;
    m.add_class::<client::NativeClient>()?;
    m.add_class::<volume::NativeVolume>()?;
    m.add_class::<volume::NativeStream>()?;
    m.add_class::<process::NativeProcess>()?;
    let terminal = porter_sandbox::DEFAULT_TERMINAL;
    m.add("DEFAULT_TERMINAL_SIZE", (terminal.cols, terminal.rows))?;
    m.add_function(wrap_pyfunction!(client::resolve_config, m)?)?;
    m.add_function(wrap_pyfunction!(volume::normalize_path, m)?)?;
    m.add_function(wrap_pyfunction!(volume::join_path, m)?)?;
    m.add_function(wrap_pyfunction!(volume::parse_content_range, m)?)?;
    m.add_function(wrap_pyfunction!(should_retry, m)?)?;
    m.add_function(wrap_pyfunction!(backoff_delay, m)?)?;
    m.add_function(wrap_pyfunction!(error_class_name, m)?)?;
    m.add("INITIAL_BACKOFF_SECONDS", porter_sandbox::retry::INITIAL_BACKOFF.as_secs_f64())?;
    m.add("MAX_BACKOFF_SECONDS", porter_sandbox::retry::MAX_BACKOFF.as_secs_f64())?;
    Ok(())
}

/// Whether the core re-sends a request answered with `status` (429 and every 5xx).
#[pyfunction]
fn should_retry(status: u16) -> bool {
    porter_sandbox::retry::should_retry(status)
}

/// The core's full-jitter wait, in seconds, before retrying the failed attempt `attempt`.
#[pyfunction]
fn backoff_delay(attempt: u32) -> f64 {
    porter_sandbox::retry::backoff_delay(attempt).as_secs_f64()
}

/// The name of the `porter_sandbox._errors` class for an HTTP error `status`.
#[pyfunction]
fn error_class_name(status: u16) -> &'static str {
    errors::class_name(porter_sandbox::ErrorKind::from_status(status))
}
