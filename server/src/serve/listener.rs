//! The accept loop: idle and slow connections are closed, their number is capped, and running
//! out of file descriptors slows accepting down instead of failing anything else.

use std::{convert::Infallible, sync::Arc, time::Duration};

use axum::{Router, body::Body};
use hyper_util::{
    rt::{TokioIo, TokioTimer},
    server::graceful::GracefulShutdown,
    service::TowerToHyperService,
};
use tokio::{net::TcpListener, sync::Semaphore};
use tower::ServiceExt;

use super::connections::{GuardedBody, Registry};

/// How long a client may take to send a request's headers, and how long a kept-alive
/// connection may sit idle before the next request.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(20);

/// File descriptors kept free for sandboxes, volumes, the store and the runtime.
const RESERVED_FDS: u64 = 4096;

/// Upper bound of the connection cap, whatever the descriptor limit.
const MAX_CONNECTIONS: u64 = 65_536;

/// Connection limits of a server.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    /// Open connections at most; beyond it the connection idle the longest is closed.
    pub max_connections: usize,
    /// See [`HEADER_READ_TIMEOUT`].
    pub header_read_timeout: Duration,
}

impl ConnectionLimits {
    /// The cap that fits this process's descriptor limit (after `raise_nofile_limit`).
    #[must_use]
    pub fn for_this_process() -> Self {
        let nofile = rustix::process::getrlimit(rustix::process::Resource::Nofile)
            .current
            .unwrap_or(MAX_CONNECTIONS + RESERVED_FDS);
        let cap = nofile.saturating_sub(RESERVED_FDS).clamp(64, MAX_CONNECTIONS);
        Self {
            max_connections: usize::try_from(cap).unwrap_or(64),
            header_read_timeout: HEADER_READ_TIMEOUT,
        }
    }
}

/// Raises this process's `RLIMIT_NOFILE`: the soft limit to the hard one, and as root the hard
/// one to `fs.nr_open` (at most 1,048,576), so many clients cannot starve the server of
/// descriptors. Returns the new soft limit.
pub fn raise_nofile_limit() -> u64 {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let current = getrlimit(Resource::Nofile);
    let nr_open = std::fs::read_to_string("/proc/sys/fs/nr_open")
        .ok()
        .and_then(|t| t.trim().parse::<u64>().ok())
        .unwrap_or(1 << 20)
        .min(1 << 20);
    let wanted = Rlimit { current: Some(nr_open), maximum: Some(nr_open) };
    if current.maximum.is_some_and(|hard| hard < nr_open)
        && setrlimit(Resource::Nofile, wanted).is_ok()
    {
        return nr_open;
    }
    let hard = current.maximum;
    let soft = Rlimit { current: hard, maximum: hard };
    if setrlimit(Resource::Nofile, soft).is_ok() {
        return hard.unwrap_or(u64::MAX);
    }
    current.current.unwrap_or(u64::MAX)
}

/// Serves `router` on `listener` until `stop` resolves, then waits up to `drain` for the
/// requests in flight.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
    stop: impl Future<Output = ()>,
    drain: Duration,
) {
    // HTTP/1.1 only: protocol sniffing for h2c would wait for a first byte with no timeout,
    // and every client of this API speaks HTTP/1.1. The header timeout also bounds how long
    // a kept-alive connection may sit idle between requests.
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_buf_size(256 * 1024);
    let graceful = GracefulShutdown::new();
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let registry = Registry::new();
    tokio::pin!(stop);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut stop => break,
        };
        let stream = match accepted {
            Ok((stream, _peer)) => stream,
            Err(err) => {
                // EMFILE/ENFILE and friends: the connection stays in the backlog; make room
                // and try again shortly rather than spinning or giving up.
                tracing::warn!("cannot accept a connection: {err}");
                registry.evict_idlest();
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
        };
        // Full: the connection idle the longest makes room for this one, so idle connections
        // can never lock clients out. The new connection waits for the freed slot in its own
        // task: the accept loop never waits, or the kernel's queue would overflow.
        let permit = match slots.clone().try_acquire_owned() {
            Ok(permit) => Some(permit),
            Err(_) if registry.evict_idlest() => None,
            Err(_) => {
                tracing::warn!(
                    "a connection was closed: all {} connections have requests in flight",
                    limits.max_connections
                );
                continue;
            }
        };
        let (slots, registry, router, builder, watcher) =
            (slots.clone(), registry.clone(), router.clone(), builder.clone(), graceful.watcher());
        tokio::spawn(async move {
            let permit = match permit {
                Some(permit) => permit,
                None => match tokio::time::timeout(Duration::from_secs(1), slots.acquire_owned())
                    .await
                {
                    Ok(Ok(permit)) => permit,
                    _ => return,
                },
            };
            let _ = stream.set_nodelay(true);
            let connection = registry.open();
            let service = {
                let (registry, connection) = (registry.clone(), connection.clone());
                tower::service_fn(move |request: axum::http::Request<hyper::body::Incoming>| {
                    let guard = registry.start_request(&connection);
                    let router = router.clone();
                    async move {
                        let response = router.oneshot(request.map(Body::new)).await?;
                        Ok::<_, Infallible>(
                            response.map(|body| Body::new(GuardedBody::new(body, guard))),
                        )
                    }
                })
            };
            let served = watcher.watch(builder.serve_connection(
                TokioIo::new(super::stall::StallGuard::new(stream, super::stall::WRITE_STALL)),
                TowerToHyperService::new(service),
            ));
            tokio::select! {
                _ = served => {}
                // Dropping the connection closes its socket.
                () = connection.close.cancelled() => {}
            }
            registry.closed(&connection);
            drop(permit);
        });
    }
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(drain) => {
            tracing::warn!("requests still running after {drain:?}; stopping anyway");
        }
    }
}
