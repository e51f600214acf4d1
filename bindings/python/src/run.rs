//! Running core futures from Python: blocking (GIL released, interruptible by Ctrl-C) or as
//! asyncio awaitables on the core's shared runtime.

use std::{
    future::Future,
    pin::Pin,
    sync::{Arc, OnceLock},
    time::Duration,
};

use pyo3::prelude::*;
use pyo3_async_runtimes::{
    TaskLocals,
    generic::{ContextExt, JoinError, Runtime},
};

use crate::{convert::Out, errors};

/// How long a blocking call waits without the GIL before checking for signals (Ctrl-C).
const SIGNAL_POLL: Duration = Duration::from_millis(50);

/// The result of every core operation as seen by the bindings.
pub type CoreResult = porter_sandbox::Result<Out>;

/// The core's process-wide runtime, rebuilt by the core after a `fork()`.
pub fn runtime() -> PyResult<Arc<tokio::runtime::Runtime>> {
    porter_sandbox::runtime::shared().map_err(|e| Python::attach(|py| errors::to_py(py, &e)))
}

/// Runs `future` to completion on the calling thread with the GIL released. Every
/// [`SIGNAL_POLL`] the GIL is taken back to run Python's signal handlers: when one raises (Ctrl-C
/// raises `KeyboardInterrupt`), the future is dropped, which cancels the request, and the
/// exception propagates.
pub fn block_on<F, T>(py: Python<'_>, future: F) -> PyResult<T>
where
    F: Future<Output = porter_sandbox::Result<T>> + Send,
    T: Send,
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
        let finished = py.detach(|| {
            runtime.block_on(async {
                tokio::select! {
                    biased;
                    result = &mut future => Some(result),
                    () = tokio::time::sleep(SIGNAL_POLL) => None,
                }
            })
        });
        match finished {
            Some(result) => return result.map_err(|e| errors::to_py(py, &e)),
            None => py.check_signals()?,
        }
    }
}

/// [`block_on`] for operations that produce an [`Out`], converted to a Python object.
pub fn call<F>(py: Python<'_>, future: F) -> PyResult<Py<PyAny>>
where
    F: Future<Output = CoreResult> + Send,
{
    let out = block_on(py, future)?;
    Ok(out.into_pyobject(py)?.unbind())
}

/// An asyncio awaitable for `future`, which runs on the core's shared runtime. Cancelling the
/// awaitable drops the future (and so cancels the request). Must be called with a running event
/// loop (from a coroutine).
pub fn awaitable<'py, F>(py: Python<'py>, future: F) -> PyResult<Bound<'py, PyAny>>
where
    F: Future<Output = CoreResult> + Send + 'static,
{
    // Make sure the runtime of this process exists before handing work to it.
    runtime()?;
    pyo3_async_runtimes::generic::future_into_py::<SharedRuntime, _, Out>(py, async move {
        future.await.map_err(|e| Python::attach(|py| errors::to_py(py, &e)))
    })
}

/// The core's shared runtime as a `pyo3-async-runtimes` runtime. Every spawn asks the core for
/// the runtime of the current process, so awaitables keep working in a forked child.
pub struct SharedRuntime;

/// The join handle of [`SharedRuntime`].
pub struct SharedJoinHandle(tokio::task::JoinHandle<()>);

/// The join error of [`SharedRuntime`].
pub struct SharedJoinError(tokio::task::JoinError);

impl JoinError for SharedJoinError {
    fn is_panic(&self) -> bool {
        self.0.is_panic()
    }

    fn into_panic(self) -> Box<dyn std::any::Any + Send + 'static> {
        self.0.into_panic()
    }
}

impl Future for SharedJoinHandle {
    type Output = Result<(), SharedJoinError>;

    fn poll(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        Pin::new(&mut self.0).poll(cx).map(|r| r.map_err(SharedJoinError))
    }
}

/// The runtime handle to spawn on: the shared runtime of this process, or — should it ever fail
/// to start — a last-resort runtime so that the awaitable still completes with an error.
fn spawn_handle() -> tokio::runtime::Handle {
    match porter_sandbox::runtime::shared() {
        Ok(runtime) => runtime.handle().clone(),
        Err(_) => fallback_runtime().handle().clone(),
    }
}

fn fallback_runtime() -> &'static tokio::runtime::Runtime {
    static FALLBACK: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    FALLBACK.get_or_init(|| {
        match tokio::runtime::Builder::new_current_thread().enable_all().build() {
            Ok(runtime) => runtime,
            // Without any runtime nothing can run at all: say why and stop.
            Err(e) => {
                use std::io::Write as _;
                let _ = writeln!(
                    std::io::stderr(),
                    "porter_sandbox: cannot start any I/O runtime: {e}"
                );
                std::process::abort()
            }
        }
    })
}

impl Runtime for SharedRuntime {
    type JoinError = SharedJoinError;
    type JoinHandle = SharedJoinHandle;

    fn spawn<F>(fut: F) -> Self::JoinHandle
    where
        F: Future<Output = ()> + Send + 'static,
    {
        SharedJoinHandle(spawn_handle().spawn(fut))
    }

    fn spawn_blocking<F>(f: F) -> Self::JoinHandle
    where
        F: FnOnce() + Send + 'static,
    {
        SharedJoinHandle(spawn_handle().spawn_blocking(f))
    }
}

tokio::task_local! {
    static TASK_LOCALS: std::cell::OnceCell<TaskLocals>;
}

impl ContextExt for SharedRuntime {
    fn scope<F, R>(locals: TaskLocals, fut: F) -> Pin<Box<dyn Future<Output = R> + Send>>
    where
        F: Future<Output = R> + Send + 'static,
    {
        let cell = std::cell::OnceCell::new();
        let _ = cell.set(locals);
        Box::pin(TASK_LOCALS.scope(cell, fut))
    }

    fn get_task_locals() -> Option<TaskLocals> {
        TASK_LOCALS.try_with(|c| c.get().cloned()).unwrap_or_default()
    }
}
