//! Which connections are open and which are doing nothing, so that a full server makes room
//! for a new client by closing the connection idle the longest, instead of refusing everyone
//! once idle connections have taken every slot.

use std::{
    collections::{HashMap, VecDeque},
    pin::Pin,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, AtomicUsize, Ordering},
    },
    task::{Context, Poll},
    time::Instant,
};

use axum::body::Body;
use bytes::Bytes;
use http_body::{Frame, SizeHint};
use tokio_util::sync::CancellationToken;

/// One open connection.
#[derive(Debug)]
pub struct Connection {
    id: u64,
    /// Requests whose response has not been fully sent.
    in_flight: AtomicUsize,
    /// When the last request ended (ms since the registry's epoch).
    last_active_ms: AtomicU64,
    /// Requests served so far.
    served: AtomicU64,
    /// Cancelled to close the connection.
    pub close: CancellationToken,
}

/// Every open connection.
#[derive(Debug)]
pub struct Registry {
    epoch: Instant,
    next_id: AtomicU64,
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    open: HashMap<u64, Arc<Connection>>,
    /// Connections in the order they were opened; those that served a request or closed are
    /// skipped lazily (and compacted away), so finding the oldest never-used one is O(1)
    /// amortised even under a flood of idle connections.
    fresh: VecDeque<Arc<Connection>>,
}

impl Inner {
    fn evictable(&self, c: &Connection) -> bool {
        c.served.load(Ordering::Relaxed) == 0
            && c.in_flight.load(Ordering::Acquire) == 0
            && self.open.contains_key(&c.id)
    }
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Arc<Self> {
        Arc::new(Self {
            epoch: Instant::now(),
            next_id: AtomicU64::new(0),
            inner: Mutex::default(),
        })
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Registers a new connection.
    pub fn open(self: &Arc<Self>) -> Arc<Connection> {
        let connection = Arc::new(Connection {
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
            in_flight: AtomicUsize::new(0),
            last_active_ms: AtomicU64::new(self.now_ms()),
            served: AtomicU64::new(0),
            close: CancellationToken::new(),
        });
        if let Ok(mut inner) = self.inner.lock() {
            inner.open.insert(connection.id, connection.clone());
            inner.fresh.push_back(connection.clone());
            if inner.fresh.len() > 2 * inner.open.len() + 1024 {
                let Inner { open, fresh } = &mut *inner;
                fresh.retain(|c| c.served.load(Ordering::Relaxed) == 0 && open.contains_key(&c.id));
            }
        }
        connection
    }

    /// Forgets a closed connection.
    pub fn closed(&self, connection: &Connection) {
        if let Ok(mut inner) = self.inner.lock() {
            inner.open.remove(&connection.id);
        }
    }

    /// Closes the connection idle the longest (no request in flight), preferring one that
    /// never completed a request — a client's pooled connection has, an idle flood's have
    /// not; false when every connection is busy.
    pub fn evict_idlest(&self) -> bool {
        let Ok(mut inner) = self.inner.lock() else { return false };
        // The oldest connection that never served a request and has none in flight.
        let mut victim = None;
        let mut skipped = Vec::new();
        while let Some(candidate) = inner.fresh.pop_front() {
            if inner.evictable(&candidate) {
                victim = Some(candidate.id);
                break;
            }
            // Busy with its first request: it stays a candidate for later.
            if candidate.served.load(Ordering::Relaxed) == 0
                && inner.open.contains_key(&candidate.id)
            {
                skipped.push(candidate);
            }
        }
        for candidate in skipped.into_iter().rev() {
            inner.fresh.push_front(candidate);
        }
        // Otherwise the used connection idle the longest.
        let victim = victim.or_else(|| {
            inner
                .open
                .values()
                .filter(|c| c.in_flight.load(Ordering::Acquire) == 0)
                .min_by_key(|c| c.last_active_ms.load(Ordering::Relaxed))
                .map(|c| c.id)
        });
        match victim.and_then(|id| inner.open.remove(&id)) {
            Some(connection) => {
                connection.close.cancel();
                true
            }
            None => false,
        }
    }

    /// Marks a request of `connection` as started; the returned guard ends it when dropped
    /// (after its response body has been sent).
    pub fn start_request(self: &Arc<Self>, connection: &Arc<Connection>) -> RequestGuard {
        connection.in_flight.fetch_add(1, Ordering::AcqRel);
        RequestGuard { registry: self.clone(), connection: connection.clone() }
    }
}

/// A request in flight; see [`Registry::start_request`].
#[derive(Debug)]
pub struct RequestGuard {
    registry: Arc<Registry>,
    connection: Arc<Connection>,
}

impl Drop for RequestGuard {
    fn drop(&mut self) {
        self.connection.last_active_ms.store(self.registry.now_ms(), Ordering::Relaxed);
        self.connection.served.fetch_add(1, Ordering::Relaxed);
        self.connection.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A response body that keeps its request counted as in flight until it is sent or dropped
/// (exec output and followed logs stream for a long time after the handler returned).
pub struct GuardedBody {
    inner: Body,
    _guard: RequestGuard,
}

impl GuardedBody {
    /// Wraps `inner`.
    pub fn new(inner: Body, guard: RequestGuard) -> Self {
        Self { inner, _guard: guard }
    }
}

impl http_body::Body for GuardedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.get_mut().inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_idlest_connection_without_requests_is_evicted() {
        let registry = Registry::new();
        let used = registry.open();
        drop(registry.start_request(&used));
        std::thread::sleep(std::time::Duration::from_millis(5));
        let busy = registry.open();
        let never_used = registry.open();
        let request = registry.start_request(&busy);
        let _request = request;
        assert!(registry.evict_idlest());
        assert!(never_used.close.is_cancelled(), "a connection that never served goes first");
        assert!(registry.evict_idlest());
        assert!(used.close.is_cancelled());
        assert!(!registry.evict_idlest(), "a connection with a request in flight stays");
        assert!(!busy.close.is_cancelled());
    }
}
