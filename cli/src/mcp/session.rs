//! One MCP session (a stdio connection, or one HTTP session): the sandboxes it created, its
//! limits, and their clean-up when it ends.

use std::{
    sync::{Arc, Mutex, PoisonError, Weak},
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use indexmap::IndexMap;
use porter_sandbox::Porter;

use super::Config;

/// The tag every sandbox a session creates carries, with the session's id as its value.
pub const SESSION_TAG: &str = "mcp-session";

/// The tag that says which program created a sandbox.
pub const CREATOR_TAG: &str = "created-by";

/// The value of [`CREATOR_TAG`].
pub const CREATOR: &str = "porter-sandbox-mcp";

/// How long clean-up waits for a terminated sandbox's volume to be released before giving up
/// on deleting it.
const VOLUME_RELEASE_WAIT: Duration = Duration::from_secs(20);

/// A sandbox this session created.
#[derive(Debug, Clone)]
pub struct Owned {
    /// Its name.
    pub name: String,
    /// The image it runs.
    pub image: String,
    /// The workspace volume created for it (deleted with it), and where it is mounted.
    pub workspace: Option<(String, String)>,
}

#[derive(Debug, Default)]
struct State {
    /// Live sandboxes by id, oldest first.
    sandboxes: IndexMap<String, Owned>,
    /// Creates under way (they count against the concurrency limit).
    pending: usize,
    /// Set once the session has ended: nothing more may be created.
    closed: bool,
}

/// A session: its id, the client, the settings and what it owns.
#[derive(Debug)]
pub struct Session {
    /// The session id (the value of the [`SESSION_TAG`] tag).
    pub id: String,
    /// The Sandbox API client.
    pub porter: Porter,
    /// The server's settings.
    pub config: Arc<Config>,
    started: Instant,
    state: Mutex<State>,
    /// Whether the client opened the session with `initialize`.
    initialized: std::sync::atomic::AtomicBool,
    /// Whether the budget timer runs.
    timer_armed: std::sync::atomic::AtomicBool,
    /// Workspace volumes named so far.
    volumes: std::sync::atomic::AtomicU64,
}

/// A reserved slot for one sandbox being created; released on drop unless it was filled.
pub struct Slot {
    session: Arc<Session>,
    filled: bool,
}

impl Slot {
    /// Records the created sandbox in the session.
    pub fn fill(mut self, id: &str, owned: Owned) {
        let closed = {
            let mut state = self.session.state();
            state.pending -= 1;
            state.sandboxes.insert(id.to_owned(), owned);
            state.closed
        };
        self.filled = true;
        self.session.arm_budget_timer();
        if closed {
            // The session ended while this sandbox was being created: it goes too.
            let session = self.session.clone();
            let id = id.to_owned();
            tokio::spawn(async move {
                if let Err(err) = session.terminate(&id).await {
                    tracing::warn!(sandbox = %id, "could not terminate: {err}");
                }
            });
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        if !self.filled {
            self.session.state().pending -= 1;
        }
    }
}

/// A fresh session id: the time and a counter, in hex (unique within this host's runs).
fn new_id() -> String {
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    format!("{:x}{:x}{n:x}", nanos & 0xffff_ffff_ffff, std::process::id())
}

impl Session {
    /// A new session; its runtime budget starts now.
    pub fn new(porter: Porter, config: Arc<Config>) -> Arc<Self> {
        Arc::new(Self {
            id: new_id(),
            porter,
            config,
            started: Instant::now(),
            state: Mutex::new(State::default()),
            initialized: std::sync::atomic::AtomicBool::new(false),
            timer_armed: std::sync::atomic::AtomicBool::new(false),
            volumes: std::sync::atomic::AtomicU64::new(0),
        })
    }

    /// Once the session owns a sandbox: terminates its sandboxes when its runtime budget runs
    /// out (armed once, and only then, so that sessions without sandboxes cost nothing).
    fn arm_budget_timer(self: &Arc<Self>) {
        if self.timer_armed.swap(true, std::sync::atomic::Ordering::Relaxed) {
            return;
        }
        let weak = Arc::downgrade(self);
        let left = self.remaining();
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                tokio::time::sleep(left).await;
                if let Some(session) = weak.upgrade() {
                    tracing::info!(session = %session.id, "session runtime budget spent");
                    session.close().await;
                }
            });
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A fresh name for a workspace volume: `mcp-<session id>-<n>`.
    pub fn volume_name(&self) -> String {
        let n = self.volumes.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
        format!("mcp-{}-{n}", self.id)
    }

    /// Records that the client opened the session with `initialize`.
    pub fn mark_initialized(&self) {
        self.initialized.store(true, std::sync::atomic::Ordering::Relaxed);
    }

    /// Whether the client opened the session with `initialize`.
    pub fn is_initialized(&self) -> bool {
        self.initialized.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// What is left of the session's runtime budget.
    pub fn remaining(&self) -> Duration {
        self.config.max_session_runtime.saturating_sub(self.started.elapsed())
    }

    /// A slot for one more sandbox, or why there is none.
    pub fn reserve(self: &Arc<Self>) -> Result<Slot, String> {
        let mut state = self.state();
        // Less than a second left is spent: a TTL counts whole seconds.
        if state.closed || self.remaining() < Duration::from_secs(1) {
            return Err(format!(
                "this session's runtime budget ({} s) is spent: its sandboxes were terminated; \
                 start a new session",
                self.config.max_session_runtime.as_secs()
            ));
        }
        let live = state.sandboxes.len() + state.pending;
        if live >= self.config.max_sandboxes {
            return Err(format!(
                "this session already has {live} sandboxes, the most it may have at once: \
                 terminate_sandbox one you no longer need first"
            ));
        }
        state.pending += 1;
        Ok(Slot { session: self.clone(), filled: false })
    }

    /// The sandbox `id` if this session created it and has not terminated it.
    pub fn owned(&self, id: &str) -> Option<Owned> {
        self.state().sandboxes.get(id).cloned()
    }

    /// The id of the session's sandbox named `name`.
    pub fn owned_by_name(&self, name: &str) -> Option<String> {
        self.state().sandboxes.iter().find(|(_, o)| o.name == name).map(|(id, _)| id.clone())
    }

    /// The session's live sandboxes, oldest first.
    pub fn sandboxes(&self) -> Vec<(String, Owned)> {
        self.state().sandboxes.iter().map(|(id, o)| (id.clone(), o.clone())).collect()
    }

    /// Terminates the session's sandbox `id` (and deletes its workspace volume).
    pub async fn terminate(&self, id: &str) -> porter_sandbox::Result<()> {
        let owned = self.state().sandboxes.shift_remove(id);
        let Some(owned) = owned else {
            return self.porter.sandboxes().handle(id).terminate().await;
        };
        terminate_owned(&self.porter, id, &owned).await
    }

    /// Ends the session: nothing more may be created, and every sandbox it created is
    /// terminated (their workspace volumes deleted). Safe to call more than once.
    pub async fn close(&self) {
        let owned: Vec<(String, Owned)> = {
            let mut state = self.state();
            state.closed = true;
            state.sandboxes.drain(..).collect()
        };
        close_all(self.porter.clone(), &self.id, owned).await;
    }
}

impl Drop for Session {
    /// A session dropped without [`Session::close`] (an HTTP session that ended) still
    /// terminates its sandboxes, on a task of the current runtime.
    fn drop(&mut self) {
        let owned: Vec<(String, Owned)> = self.state().sandboxes.drain(..).collect();
        if owned.is_empty() {
            return;
        }
        let porter = self.porter.clone();
        let id = self.id.clone();
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let task = runtime.spawn(async move { close_all(porter, &id, owned).await });
            let mut pending = PENDING.lock().unwrap_or_else(PoisonError::into_inner);
            pending.retain(|t| !t.is_finished());
            pending.push(task);
        }
    }
}

/// Clean-ups started by dropped sessions, which a shutdown waits for.
static PENDING: Mutex<Vec<tokio::task::JoinHandle<()>>> = Mutex::new(Vec::new());

/// Waits for the clean-ups of dropped sessions to finish.
pub async fn finish_cleanups() {
    let pending: Vec<_> =
        PENDING.lock().unwrap_or_else(PoisonError::into_inner).drain(..).collect();
    for task in pending {
        let _ = task.await;
    }
}

/// Terminates `owned` concurrently, logging what could not be terminated.
async fn close_all(porter: Porter, session: &str, owned: Vec<(String, Owned)>) {
    if owned.is_empty() {
        return;
    }
    tracing::info!(session, count = owned.len(), "terminating the session's sandboxes");
    let tasks = owned.into_iter().map(|(id, owned)| {
        let porter = porter.clone();
        async move {
            if let Err(err) = terminate_owned(&porter, &id, &owned).await {
                tracing::warn!(sandbox = %id, "could not terminate: {err}");
            }
        }
    });
    futures_util::future::join_all(tasks).await;
}

/// Terminates one sandbox, then deletes its workspace volume once the sandbox has let it go.
async fn terminate_owned(porter: &Porter, id: &str, owned: &Owned) -> porter_sandbox::Result<()> {
    match porter.sandboxes().handle(id).terminate().await {
        Ok(()) => {}
        // Already gone (its TTL or lease ended it): only the volume is left to delete.
        Err(err) if err.is_not_found() || err.status() == Some(409) => {}
        Err(err) => return Err(err),
    }
    if let Some((volume, _)) = &owned.workspace {
        let deadline = Instant::now() + VOLUME_RELEASE_WAIT;
        let mut pause = Duration::from_millis(50);
        loop {
            match porter.volumes().raw().delete_volume(volume).await {
                Ok(()) => break,
                Err(err) if err.is_not_found() => break,
                // Still attached while the sandbox finishes terminating.
                Err(err) if err.status() == Some(409) && Instant::now() < deadline => {
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_secs(1));
                }
                Err(err) => return Err(err),
            }
        }
    }
    Ok(())
}

/// Every live session of this server, so that a shutdown can close them all.
#[derive(Debug, Default)]
pub struct Registry {
    sessions: Mutex<Vec<Weak<Session>>>,
}

impl Registry {
    /// Remembers `session` (weakly: an ended session goes away by itself).
    pub fn add(&self, session: &Arc<Session>) {
        let mut sessions = self.sessions.lock().unwrap_or_else(PoisonError::into_inner);
        sessions.retain(|s| s.strong_count() > 0);
        sessions.push(Arc::downgrade(session));
    }

    /// Closes every live session, concurrently.
    pub async fn close_all(&self) {
        let live: Vec<Arc<Session>> = self
            .sessions
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .filter_map(Weak::upgrade)
            .collect();
        futures_util::future::join_all(live.iter().map(|s| s.close())).await;
    }
}
