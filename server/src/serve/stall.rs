//! A connection whose client stops reading while a response is being written is closed after
//! [`WRITE_STALL`]: each such connection holds its response's buffered chunks (a download
//! keeps up to a couple of MiB in flight), so many stalled readers could otherwise take the
//! server's memory. A write that makes any progress starts the clock again; a connection with
//! nothing to write (an idle follow, a long exec) is never affected.

use std::{
    io,
    pin::Pin,
    task::{Context, Poll},
    time::Duration,
};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// How long a write may wait for the client to read before the connection is closed.
pub const WRITE_STALL: Duration = Duration::from_secs(60);

/// `inner` with writes that give up after `limit` without progress.
pub struct StallGuard<S> {
    inner: S,
    limit: Duration,
    /// Armed while a write waits.
    waiting: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl<S> StallGuard<S> {
    /// Wraps `inner`.
    pub fn new(inner: S, limit: Duration) -> Self {
        Self { inner, limit, waiting: None }
    }

    /// What a pending write does: waits on, or fails once the client stalled for too long.
    fn stalled<T>(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<T>> {
        let limit = self.limit;
        let timer = self.waiting.get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
        match timer.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("the client read nothing for {} s: connection closed", limit.as_secs()),
            ))),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for StallGuard<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for StallGuard<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match Pin::new(&mut self.inner).poll_write(cx, buf) {
            Poll::Pending => self.stalled(cx),
            done => {
                self.waiting = None;
                done
            }
        }
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match Pin::new(&mut self.inner).poll_write_vectored(cx, bufs) {
            Poll::Pending => self.stalled(cx),
            done => {
                self.waiting = None;
                done
            }
        }
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match Pin::new(&mut self.inner).poll_flush(cx) {
            Poll::Pending => self.stalled(cx),
            done => {
                self.waiting = None;
                done
            }
        }
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn a_write_the_client_never_reads_fails_after_the_limit_and_progress_resets_it() {
        // Wide margins: a loaded machine may wake the reader late.
        let limit = Duration::from_secs(2);
        let (ours, mut theirs) = tokio::io::duplex(16);
        let mut guarded = StallGuard::new(ours, limit);
        // Reading now and then keeps the writer going, however long the whole takes.
        let reader = tokio::spawn(async move {
            let mut got = [0u8; 64];
            for chunk in got.chunks_mut(16) {
                tokio::time::sleep(Duration::from_millis(500)).await;
                theirs.read_exact(chunk).await.unwrap();
            }
            theirs // then reads nothing more
        });
        let started = tokio::time::Instant::now();
        guarded.write_all(&[7u8; 80]).await.unwrap();
        assert!(started.elapsed() >= Duration::from_millis(1900), "{:?}", started.elapsed());
        let _theirs = reader.await.unwrap();
        let stalled = tokio::time::Instant::now();
        let err = guarded.write_all(&[7u8; 32]).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        assert!(stalled.elapsed() >= limit, "{:?}", stalled.elapsed());
    }
}
