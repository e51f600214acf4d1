//! Stopping sandboxes reliably: teardowns retried with backoff, counted so a stopping server
//! waits for them, and the reconciliation that ends sandboxes the server no longer tracks.

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use porter_sandbox::types::LogLineLevel;

use super::Service;
use crate::runtime::{Runtime, RuntimeError};

impl Service {
    /// Stops sandbox `id` (retrying with backoff) in a task of its own: a request dropped
    /// midway (client gone) must not cut a teardown short, and a stopping server waits for the
    /// teardowns in flight (`wait_teardowns`).
    pub(crate) async fn teardown(&self, id: &str) -> Result<(), RuntimeError> {
        let runtime = self.runtime.clone();
        let guard = TeardownGuard::new(self.teardowns.clone());
        let owned = id.to_owned();
        let task = tokio::spawn(async move {
            let _guard = guard;
            kill_retrying(runtime.as_ref(), &owned).await
        });
        let result = task
            .await
            .unwrap_or_else(|e| Err(RuntimeError::other(format!("the teardown task failed: {e}"))));
        if let Err(err) = &result {
            tracing::error!("cannot stop sandbox {id}: {err}");
        }
        result
    }

    /// Waits (at most `timeout`) until no sandbox is being torn down, then unmounts the
    /// volumes (for a stopping server).
    pub async fn wait_teardowns(&self, timeout: std::time::Duration) {
        let idle = async {
            loop {
                let notified = self.teardowns.idle.notified();
                if self.teardowns.count.load(Ordering::SeqCst) == 0 {
                    return;
                }
                notified.await;
            }
        };
        if tokio::time::timeout(timeout, idle).await.is_err() {
            tracing::warn!("sandbox teardowns still running after {timeout:?}; stopping anyway");
        }
        // The server is stopping: its volume mounts go too (the next start mounts them again).
        self.release_volumes().await;
    }

    /// Ends every sandbox the runtime finds on the host that the store does not track as live
    /// (left running when its record was settled, or when the store was lost), so no sandbox
    /// runs untracked. Runs at start and then periodically. A sandbox is only ended when its
    /// record, read after it was found, is terminal or missing: records are written before
    /// containers start, so a sandbox being launched is never taken for an untracked one.
    pub(super) async fn reconcile(&self) {
        if self.runtime.shared() {
            self.adopt_shared().await;
            return;
        }
        for id in self.runtime.found().await {
            match self.store.get_sandbox(&id) {
                Ok(Some(row)) if !row.phase.is_terminal() => continue,
                Ok(row) => {
                    tracing::warn!(
                        "sandbox {id} is on this host but not live in the store: ending it"
                    );
                    if let Err(err) = kill_retrying(self.runtime.as_ref(), &id).await {
                        tracing::error!("cannot end untracked sandbox {id}: {err}");
                        continue;
                    }
                    if row.is_some() {
                        self.log_system(
                            &id,
                            LogLineLevel::Error,
                            "the sandbox was still present on this host although the server no \
                             longer tracked it; it was stopped",
                        );
                    }
                }
                // Without the record, ending it could end a tracked sandbox.
                Err(err) => tracing::error!("cannot check whether sandbox {id} is tracked: {err}"),
            }
        }
    }
}

/// Pauses between attempts to stop a sandbox or record its end (about 16 s in all).
pub(super) const RETRY_DELAYS: [Duration; 6] = [
    Duration::from_millis(250),
    Duration::from_millis(500),
    Duration::from_secs(1),
    Duration::from_secs(2),
    Duration::from_secs(4),
    Duration::from_secs(8),
];

/// Stops sandbox `id`, retrying with backoff (each failure logged): a teardown that failed
/// once (no file descriptors, a busy mount) usually succeeds a moment later.
pub(super) async fn kill_retrying(runtime: &dyn Runtime, id: &str) -> Result<(), RuntimeError> {
    let mut delays = RETRY_DELAYS.iter();
    loop {
        match runtime.kill(id).await {
            Ok(()) => return Ok(()),
            Err(err) => match delays.next() {
                Some(delay) => {
                    tracing::warn!("stopping sandbox {id} failed ({err}); retrying in {delay:?}");
                    tokio::time::sleep(*delay).await;
                }
                None => return Err(err),
            },
        }
    }
}

/// Sandbox teardowns in flight.
#[derive(Debug, Default)]
pub(super) struct Teardowns {
    count: AtomicUsize,
    idle: tokio::sync::Notify,
}

/// Counts one teardown while it lives.
struct TeardownGuard(Arc<Teardowns>);

impl TeardownGuard {
    fn new(teardowns: Arc<Teardowns>) -> Self {
        teardowns.count.fetch_add(1, Ordering::SeqCst);
        Self(teardowns)
    }
}

impl Drop for TeardownGuard {
    fn drop(&mut self) {
        if self.0.count.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.0.idle.notify_waiters();
        }
    }
}
