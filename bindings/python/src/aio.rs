//! asyncio awaitables for core futures, with completions handed to the event loop in batches.
//!
//! Each awaitable is an `asyncio.Future` of the running loop; the core future runs on the
//! core's shared runtime. When it finishes, its result is queued for that loop and — only when
//! the queue was empty — one byte is written to a socket pair the loop watches
//! (`loop.add_reader`). The loop then resolves every queued future in one callback, on its own
//! thread, with the GIL it already holds: the runtime's threads never wait for the GIL, and a
//! thousand concurrent calls cost a handful of loop wake-ups instead of a thousand.
//!
//! Cancelling the awaitable (its task) aborts the runtime task, which drops the core future and
//! so cancels the request.

use std::{
    cell::RefCell,
    future::Future,
    io::{Read, Write},
    os::unix::{io::AsRawFd, net::UnixStream},
    panic::AssertUnwindSafe,
    sync::{Arc, Mutex, PoisonError},
};

use futures_util::FutureExt;
use pyo3::{
    exceptions::PyRuntimeError,
    intern,
    prelude::*,
    sync::PyOnceLock,
    types::{PyWeakrefMethods, PyWeakrefReference},
};
use tokio::task::AbortHandle;

use crate::{
    errors,
    run::{CoreResult, runtime},
};

/// How a runtime task ended.
enum Outcome {
    Finished(CoreResult),
    Panicked(String),
}

struct Completion {
    future: Py<PyAny>,
    outcome: Outcome,
}

/// The completions waiting for one event loop, and the socket pair that wakes it.
struct LoopQueue {
    pending: Mutex<Vec<Completion>>,
    writer: UnixStream,
    reader: UnixStream,
}

impl LoopQueue {
    fn new() -> std::io::Result<Self> {
        let (writer, reader) = UnixStream::pair()?;
        writer.set_nonblocking(true)?;
        reader.set_nonblocking(true)?;
        Ok(Self { pending: Mutex::new(Vec::new()), writer, reader })
    }

    fn push(&self, completion: Completion) {
        let mut pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
        let was_empty = pending.is_empty();
        pending.push(completion);
        drop(pending);
        if was_empty {
            // A full socket buffer means a wake-up is already pending: nothing to do.
            let _ = (&self.writer).write(&[1]);
        }
    }

    fn take(&self) -> Vec<Completion> {
        // Empty the socket first: a completion queued after this read wakes the loop again.
        let mut buffer = [0_u8; 256];
        while matches!((&self.reader).read(&mut buffer), Ok(n) if n > 0) {}
        std::mem::take(&mut *self.pending.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

/// The loop's reader callback: resolves every queued future.
#[pyclass(frozen, module = "porter_sandbox._native")]
struct Drain {
    queue: Arc<LoopQueue>,
}

#[pymethods]
impl Drain {
    fn __call__(&self, py: Python<'_>) {
        for completion in self.queue.take() {
            // A future cancelled meanwhile refuses a result; there is nobody to tell.
            let _ = deliver(py, completion);
        }
    }
}

fn deliver(py: Python<'_>, completion: Completion) -> PyResult<()> {
    let future = completion.future.bind(py);
    if future.call_method0(intern!(py, "done"))?.is_truthy()? {
        return Ok(());
    }
    let result = match completion.outcome {
        Outcome::Finished(Ok(out)) => out.into_pyobject(py).map(Bound::unbind),
        Outcome::Finished(Err(error)) => Err(errors::to_py(py, &error)),
        Outcome::Panicked(message) => {
            Err(PyRuntimeError::new_err(format!("porter_sandbox internal error: {message}")))
        }
    };
    match result {
        Ok(value) => future.call_method1(intern!(py, "set_result"), (value,))?,
        Err(error) => future.call_method1(intern!(py, "set_exception"), (error.value(py),))?,
    };
    Ok(())
}

/// The awaitable's done callback: a cancelled future aborts its runtime task.
#[pyclass(frozen, module = "porter_sandbox._native")]
struct Canceller {
    task: AbortHandle,
}

#[pymethods]
impl Canceller {
    fn __call__(&self, future: &Bound<'_, PyAny>) -> PyResult<()> {
        if future.call_method0(intern!(future.py(), "cancelled"))?.is_truthy()? {
            self.task.abort();
        }
        Ok(())
    }
}

thread_local! {
    /// The queue of the loop last used on this thread (a loop runs on one thread).
    static CURRENT: RefCell<Option<(Py<PyWeakrefReference>, Arc<LoopQueue>)>> =
        const { RefCell::new(None) };
}

fn running_loop(py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
    static GET_RUNNING_LOOP: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    GET_RUNNING_LOOP
        .get_or_try_init(py, || {
            py.import("asyncio").and_then(|m| m.getattr("get_running_loop")).map(Bound::unbind)
        })?
        .bind(py)
        .call0()
}

/// The queue of `event_loop`, registered with it on first use.
fn queue_for(event_loop: &Bound<'_, PyAny>) -> PyResult<Arc<LoopQueue>> {
    let py = event_loop.py();
    let cached = CURRENT.with_borrow(|current| {
        current.as_ref().and_then(|(weak, queue)| {
            weak.bind(py).upgrade().filter(|l| l.is(event_loop)).map(|_| queue.clone())
        })
    });
    if let Some(queue) = cached {
        return Ok(queue);
    }
    let queue = Arc::new(LoopQueue::new().map_err(|e| {
        PyRuntimeError::new_err(format!("cannot create the event-loop wake-up channel: {e}"))
    })?);
    let drain = Drain { queue: queue.clone() };
    event_loop.call_method1(intern!(py, "add_reader"), (queue.reader.as_raw_fd(), drain))?;
    let weak = PyWeakrefReference::new(event_loop)?.unbind();
    CURRENT.with_borrow_mut(|current| *current = Some((weak, queue.clone())));
    Ok(queue)
}

/// An `asyncio.Future` of the running loop for `future`, which runs on the core's shared
/// runtime. Must be called from a coroutine (with a running loop).
pub fn awaitable<'py, F>(py: Python<'py>, future: F) -> PyResult<Bound<'py, PyAny>>
where
    F: Future<Output = CoreResult> + Send + 'static,
{
    let event_loop = running_loop(py)?;
    let queue = queue_for(&event_loop)?;
    let py_future = event_loop.call_method0(intern!(py, "create_future"))?;
    let target = py_future.clone().unbind();
    let task = runtime()?.spawn(async move {
        let outcome = match AssertUnwindSafe(future).catch_unwind().await {
            Ok(result) => Outcome::Finished(result),
            Err(panic) => Outcome::Panicked(
                panic
                    .downcast_ref::<&str>()
                    .map(|s| (*s).to_owned())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "a task panicked".to_owned()),
            ),
        };
        queue.push(Completion { future: target, outcome });
    });
    py_future.call_method1(
        intern!(py, "add_done_callback"),
        (Canceller { task: task.abort_handle() },),
    )?;
    Ok(py_future)
}
