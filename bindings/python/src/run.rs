//! Running core futures from blocking Python code: the GIL released, interruptible by Ctrl-C.
//! (Awaitables are in `aio.rs`.)

use std::{future::Future, sync::Arc, time::Duration};

use pyo3::prelude::*;

use crate::{convert::Out, errors};

/// How long a blocking call waits without the GIL before checking for signals (Ctrl-C).
const SIGNAL_POLL: Duration = Duration::from_millis(50);

/// The result of every core operation as seen by the bindings.
pub type CoreResult = porter_sandbox::Result<Out>;

/// The core's process-wide runtime, rebuilt by the core after a `fork()` (so both blocking calls
/// and awaitables keep working in a forked child).
pub fn runtime() -> PyResult<Arc<tokio::runtime::Runtime>> {
    porter_sandbox::runtime::shared().map_err(|e| Python::attach(|py| errors::to_py(py, &e)))
}

/// Runs `future` on the calling thread (inside the shared runtime, whose workers drive the
/// connections) with the GIL released, and returns its result. Every [`SIGNAL_POLL`] the GIL is
/// taken back to run Python's signal handlers: when one raises (Ctrl-C raises
/// `KeyboardInterrupt`), the future is dropped — which cancels the request — and the exception
/// propagates. Polling the call here rather than spawning it on a worker saves a hand-off to a
/// worker thread and the channel back on every call.
pub fn block_on<F, T>(py: Python<'_>, future: F) -> PyResult<T>
where
    F: Future<Output = porter_sandbox::Result<T>> + Send + 'static,
    T: Send + 'static,
{
    if tokio::runtime::Handle::try_current().is_ok() {
        return Err(pyo3::exceptions::PyRuntimeError::new_err(
            "a blocking Porter call was made from a thread that drives the I/O runtime; use \
             AsyncPorter there instead",
        ));
    }
    let runtime = runtime()?;
    let mut future = std::pin::pin!(future);
    loop {
        let pending = &mut future;
        let waited = py.detach(|| {
            runtime.block_on(async { tokio::time::timeout(SIGNAL_POLL, pending).await })
        });
        match waited {
            Ok(result) => return result.map_err(|e| errors::to_py(py, &e)),
            // Returning drops the future, which cancels the request.
            Err(_elapsed) => py.check_signals()?,
        }
    }
}

/// [`block_on`] for operations that produce an [`Out`], converted to a Python object.
pub fn call<F>(py: Python<'_>, future: F) -> PyResult<Py<PyAny>>
where
    F: Future<Output = CoreResult> + Send + 'static,
{
    let out = block_on(py, future)?;
    Ok(out.into_pyobject(py)?.unbind())
}
