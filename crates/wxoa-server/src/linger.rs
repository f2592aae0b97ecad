//! Lingering close: when a connection ends, stop writing, then read and discard what the
//! client still sends (up to a bound and a time limit) before closing, as Apache's and nginx's
//! lingering close do.
//!
//! Closing a socket with unread data in its receive buffer makes the kernel answer with a
//! reset, and a reset can reach the client before it has read our last response: a client
//! still sending a body we refused (413) would see a broken pipe instead of the 413. HTTP/1 in
//! hyper calls `poll_shutdown` once its last response is written; [`Lingering`] turns that
//! call into "send FIN, drain, then report done", so the socket is closed only once the client
//! has stopped sending (or the bound is reached).

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

/// How much a closing connection may still read, and for how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LingerLimits {
    /// The most bytes read and discarded after our last response.
    pub max_bytes: u64,
    /// The longest the whole drain may take.
    pub max_time: Duration,
    /// The longest wait for the next piece of data (nginx's `lingering_timeout`).
    pub idle: Duration,
}

impl Default for LingerLimits {
    /// 64 MiB, at most 10 s in all, at most 2 s of silence (Apache lingers up to 30 s with
    /// 2 s reads, nginx 30 s with 5 s reads, neither with a byte bound).
    fn default() -> Self {
        Self {
            max_bytes: 64 * 1024 * 1024,
            max_time: Duration::from_secs(10),
            idle: Duration::from_secs(2),
        }
    }
}

/// The state of a drain in progress.
#[derive(Debug)]
struct Drain {
    deadline: Pin<Box<Sleep>>,
    idle: Pin<Box<Sleep>>,
    read: u64,
}

/// A stream whose shutdown lingers: see the module documentation.
#[derive(Debug)]
pub struct Lingering<S> {
    inner: S,
    limits: LingerLimits,
    drain: Option<Drain>,
}

impl<S> Lingering<S> {
    /// Wrap `inner`.
    pub fn new(inner: S, limits: LingerLimits) -> Self {
        Self {
            inner,
            limits,
            drain: None,
        }
    }

    /// The wrapped stream.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Lingering<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for Lingering<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    /// Send FIN (and TLS close_notify), then read and discard until the client closes its side,
    /// goes quiet for [`LingerLimits::idle`], or a bound is reached.
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        let drain = match &mut this.drain {
            Some(drain) => drain,
            None => {
                ready!(Pin::new(&mut this.inner).poll_shutdown(cx))?;
                let now = Instant::now();
                this.drain.insert(Drain {
                    deadline: Box::pin(tokio::time::sleep_until(now + this.limits.max_time)),
                    idle: Box::pin(tokio::time::sleep_until(now + this.limits.idle)),
                    read: 0,
                })
            }
        };
        let mut scratch = [0u8; 16 * 1024];
        loop {
            if drain.read >= this.limits.max_bytes
                || drain.deadline.as_mut().poll(cx).is_ready()
                || drain.idle.as_mut().poll(cx).is_ready()
            {
                return Poll::Ready(Ok(()));
            }
            let mut buf = ReadBuf::new(&mut scratch);
            match ready!(Pin::new(&mut this.inner).poll_read(cx, &mut buf)) {
                Ok(()) if buf.filled().is_empty() => return Poll::Ready(Ok(())),
                Ok(()) => {
                    drain.read += buf.filled().len() as u64;
                    drain.idle.as_mut().reset(Instant::now() + this.limits.idle);
                }
                // A reset or a TLS error while draining: the client is gone, nothing to wait for.
                Err(_) => return Poll::Ready(Ok(())),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    #[tokio::test]
    async fn shutdown_drains_until_the_client_closes() {
        let (server, mut client) = tokio::io::duplex(64);
        let mut server = Lingering::new(server, LingerLimits::default());
        let shutdown = tokio::spawn(async move {
            server.shutdown().await.unwrap();
            server
        });
        // The client still writes more than the pipe holds: only a draining server lets it.
        client.write_all(&[b'x'; 4096]).await.unwrap();
        let mut rest = Vec::new();
        client.read_to_end(&mut rest).await.unwrap();
        assert!(rest.is_empty(), "the server wrote nothing after shutdown");
        drop(client);
        let server = shutdown.await.unwrap();
        assert_eq!(server.drain.as_ref().map(|d| d.read), Some(4096));
    }

    #[tokio::test(start_paused = true)]
    async fn a_silent_client_is_given_up_on_after_the_idle_limit() {
        let (server, _client) = tokio::io::duplex(64);
        let limits = LingerLimits {
            idle: Duration::from_secs(2),
            ..LingerLimits::default()
        };
        let mut server = Lingering::new(server, limits);
        let started = Instant::now();
        server.shutdown().await.unwrap();
        assert_eq!(started.elapsed(), Duration::from_secs(2));
    }

    #[tokio::test]
    async fn the_byte_bound_ends_the_drain() {
        let (server, mut client) = tokio::io::duplex(1024);
        let limits = LingerLimits {
            max_bytes: 1000,
            ..LingerLimits::default()
        };
        let mut server = Lingering::new(server, limits);
        client.write_all(&[b'x'; 1024]).await.unwrap();
        server.shutdown().await.unwrap();
        assert!(server.drain.as_ref().is_some_and(|d| d.read >= 1000));
    }
}
