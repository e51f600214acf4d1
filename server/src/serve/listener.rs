//! The accept loop: idle and slow connections are closed, their number is capped, and running
//! out of file descriptors slows accepting down instead of failing anything else.

use std::{sync::Arc, time::Duration};

use axum::Router;
use hyper_util::{
    rt::{TokioExecutor, TokioIo, TokioTimer},
    server::{conn::auto, graceful::GracefulShutdown},
    service::TowerToHyperService,
};
use tokio::{net::TcpListener, sync::Semaphore};

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
    /// Open connections at most; more are closed as soon as they are accepted.
    pub max_connections: usize,
    /// See [`HEADER_READ_TIMEOUT`].
    pub header_read_timeout: Duration,
}

impl ConnectionLimits {
    /// The cap that fits this process's descriptor limit (after [`raise_nofile_limit`]).
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
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_buf_size(256 * 1024);
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(Some(limits.header_read_timeout))
        .keep_alive_timeout(limits.header_read_timeout)
        .max_concurrent_streams(256);
    let graceful = GracefulShutdown::new();
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let mut refused_since_warning = 0u64;
    let mut last_warning = tokio::time::Instant::now() - Duration::from_secs(60);
    tokio::pin!(stop);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut stop => break,
        };
        let stream = match accepted {
            Ok((stream, _peer)) => stream,
            Err(err) => {
                // EMFILE/ENFILE and friends: the connection stays in the backlog; try again
                // shortly rather than spinning or giving up.
                tracing::warn!("cannot accept a connection: {err}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            refused_since_warning += 1;
            if last_warning.elapsed() > Duration::from_secs(10) {
                tracing::warn!(
                    "{refused_since_warning} connection(s) closed: the server holds its maximum \
                     of {} open connections",
                    limits.max_connections
                );
                refused_since_warning = 0;
                last_warning = tokio::time::Instant::now();
            }
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let service = TowerToHyperService::new(router.clone());
        let connection = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
        let connection = graceful.watch(connection.into_owned());
        tokio::spawn(async move {
            let _ = connection.await;
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
