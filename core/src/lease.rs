//! Lease renewal: a sandbox created with `lease_seconds` (an extension of the local Porter
//! server) is terminated by the server unless its lease is renewed; the client that created
//! it renews it in the background for as long as the client lives.
//!
//! Each lease is renewed every third of its length (a 30 s lease every 10 s), so two renewals
//! can fail before it expires. The renewing task holds the client only weakly: it ends when
//! the last clone of the [`Porter`](crate::Porter) is dropped or closed, and with the process —
//! after which the server terminates the sandboxes once their leases run out.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, PoisonError, Weak},
    time::Duration,
};

use tokio::time::Instant;

use crate::{ErrorKind, api::SandboxesApi};

/// How often the renewing task looks for a lease that is due.
const TICK: Duration = Duration::from_millis(250);

/// The leases one client keeps alive. Shared by the clones of a `Porter`.
#[derive(Debug)]
pub(crate) struct LeaseKeeper {
    api: SandboxesApi,
    state: Mutex<KeeperState>,
}

#[derive(Debug, Default)]
struct KeeperState {
    /// Sandbox id → (lease length, when to renew next).
    leases: HashMap<String, (Duration, Instant)>,
    /// Whether the renewing task runs.
    running: bool,
}

impl LeaseKeeper {
    pub(crate) fn new(api: SandboxesApi) -> Arc<Self> {
        Arc::new(Self { api, state: Mutex::new(KeeperState::default()) })
    }

    fn state(&self) -> std::sync::MutexGuard<'_, KeeperState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Starts renewing the lease of sandbox `id`, `lease_seconds` long. Must be called inside a
    /// tokio runtime (the renewing task runs on it).
    pub(crate) fn track(self: &Arc<Self>, id: &str, lease_seconds: i64) {
        let Ok(seconds) = u64::try_from(lease_seconds) else { return };
        if seconds == 0 {
            return;
        }
        let lease = Duration::from_secs(seconds);
        let spawn = {
            let mut state = self.state();
            state.leases.insert(id.to_owned(), (lease, Instant::now() + lease / 3));
            !std::mem::replace(&mut state.running, true)
        };
        if spawn {
            if let Ok(handle) = tokio::runtime::Handle::try_current() {
                handle.spawn(renew_loop(Arc::downgrade(self)));
            } else {
                self.state().running = false;
            }
        }
    }

    /// Stops renewing the lease of sandbox `id` (it was terminated).
    pub(crate) fn forget(&self, id: &str) {
        self.state().leases.remove(id);
    }

    /// The ids of the sandboxes whose leases this client renews.
    pub(crate) fn tracked(&self) -> Vec<String> {
        self.state().leases.keys().cloned().collect()
    }
}

/// Renews due leases until the keeper is gone (client dropped), the client is closed, or no
/// lease is left.
async fn renew_loop(keeper: Weak<LeaseKeeper>) {
    loop {
        tokio::time::sleep(TICK).await;
        let Some(keeper) = keeper.upgrade() else { return };
        let due: Vec<(String, Duration)> = {
            let mut state = keeper.state();
            if state.leases.is_empty() {
                state.running = false;
                return;
            }
            let now = Instant::now();
            state
                .leases
                .iter()
                .filter(|(_, (_, next))| *next <= now)
                .map(|(id, (lease, _))| (id.clone(), *lease))
                .collect()
        };
        for (id, lease) in due {
            // A renewal slower than a third of the lease is given up; the next one follows.
            let outcome =
                tokio::time::timeout(lease / 3, keeper.api.renew_sandbox_lease(&id)).await;
            let mut state = keeper.state();
            match outcome {
                Ok(Ok(())) => {
                    if let Some(entry) = state.leases.get_mut(&id) {
                        entry.1 = Instant::now() + lease / 3;
                    }
                }
                // Gone, or already terminal (409): nothing left to keep alive.
                Ok(Err(err)) if err.is_not_found() || err.status() == Some(409) => {
                    state.leases.remove(&id);
                }
                Ok(Err(err)) if err.kind() == ErrorKind::InvalidArgument => {
                    // The client was closed.
                    state.leases.clear();
                    state.running = false;
                    return;
                }
                // Network trouble: try again at the next tick.
                Ok(Err(_)) | Err(_) => {}
            }
        }
    }
}
