//! The shared tokio runtime used by [`crate::blocking`] and by the language bindings.
//!
//! A tokio runtime does not survive `fork()`: its worker threads stay in the parent. The shared
//! runtime is therefore tied to the process id and rebuilt in a forked child, instead of hanging.

use std::sync::{Arc, Mutex, PoisonError};

use crate::{Error, ErrorKind, Result};

static SHARED: Mutex<Option<(u32, Arc<tokio::runtime::Runtime>)>> = Mutex::new(None);

/// The process-wide runtime (two worker threads named `porter-sandbox`), created on first use
/// and again after a `fork()`.
pub fn shared() -> Result<Arc<tokio::runtime::Runtime>> {
    let pid = std::process::id();
    let mut guard = SHARED.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some((owner, runtime)) = guard.as_ref() {
        if *owner == pid {
            return Ok(runtime.clone());
        }
        // The parent's runtime: its threads do not exist here, so dropping it could block.
        if let Some((_, stale)) = guard.take() {
            std::mem::forget(stale);
        }
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("porter-sandbox")
        .enable_all()
        .build()
        .map_err(|e| {
            Error::new(ErrorKind::Network, format!("cannot start the I/O runtime: {e}"))
                .with_source(e)
        })?;
    let runtime = Arc::new(runtime);
    *guard = Some((pid, runtime.clone()));
    Ok(runtime)
}

/// Runs `future` to completion on the shared runtime, from synchronous code. Fails (instead of
/// panicking) when called from inside an async runtime, where blocking would stall it.
pub fn block_on<F: std::future::Future>(future: F) -> Result<F::Output> {
    if tokio::runtime::Handle::try_current().is_ok() {
        return Err(Error::invalid_argument(
            "a blocking Porter call was made from inside an async runtime; use the async API \
             (porter_sandbox::Porter) there instead",
        ));
    }
    Ok(shared()?.block_on(future))
}
