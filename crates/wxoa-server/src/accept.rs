//! The accept loop of [`crate::serve`] and [`crate::tls::serve_tls`]: the connection cap, the
//! HTTP/1 head limits and timeouts, lingering close, and graceful shutdown.
//!
//! Every accepted connection takes one of `server.max_connections` slots until it closes (a
//! TLS handshake in progress included); with none free the loop stops accepting and further
//! clients wait in the kernel's listen backlog. Each connection is served by hyper's HTTP/1
//! with a limit on the request head (`server.max_header_bytes`, else 431 — or 414 for a
//! request target over 64 KiB) and a time limit on it (`server.header_timeout_ms`, kept by one
//! check a connection, which also closes idle keep-alive connections), over a [`Lingering`]
//! stream so that a refused body does not turn our answer into a connection reset. A `GET` or
//! `POST` to an account's callback path goes straight to its handler, the one its route in
//! [`edge::accounts_router`] calls; every other request goes through that router. On shutdown
//! the listener closes at once and the requests in flight are finished.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_rustls::TlsAcceptor;

use crate::accounts::Accounts;
use crate::app::App;
use crate::config::ServerConfig;
use crate::edge;
use crate::head_deadline::{Activity, head_deadline};
use crate::linger::{LingerLimits, Lingering};

/// How long the loop waits after an accept error other than a client's (e.g. out of file
/// descriptors) before accepting again.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_secs(1);

/// The limits every connection of the callback listener is served with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// The most connections open at once (`server.max_connections`).
    pub max_connections: usize,
    /// The largest request head (`server.max_header_bytes`).
    pub max_header_bytes: usize,
    /// The time for a whole request head, and the idle keep-alive timeout
    /// (`server.header_timeout_ms`).
    pub header_timeout: Duration,
    /// What a closing connection still reads and discards.
    pub linger: LingerLimits,
}

impl ConnectionLimits {
    /// The limits `[server]` sets (lingering with its defaults).
    #[must_use]
    pub fn from_config(server: &ServerConfig) -> Self {
        Self {
            max_connections: server.max_connections,
            max_header_bytes: server.max_header_bytes,
            header_timeout: Duration::from_millis(server.header_timeout_ms),
            linger: LingerLimits::default(),
        }
    }
}

/// TLS for the connections: the acceptor and how long a handshake may take.
#[derive(Clone)]
pub(crate) struct TlsSetup {
    pub(crate) acceptor: TlsAcceptor,
    pub(crate) handshake_timeout: Duration,
}

impl std::fmt::Debug for TlsSetup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsSetup")
            .field("handshake_timeout", &self.handshake_timeout)
            .finish_non_exhaustive()
    }
}

/// Serve the callback on `listener` (over TLS with `tls`) until `shutdown` resolves, then
/// finish the requests in flight.
pub(crate) async fn serve_connections<F>(
    listener: TcpListener,
    accounts: Accounts,
    tls: Option<TlsSetup>,
    shutdown: F,
) -> io::Result<()>
where
    F: Future<Output = ()> + Send + 'static,
{
    let limits = ConnectionLimits::from_config(accounts.first().server());
    let service = TowerToHyperService::new(edge::accounts_router(&accounts));
    let accounts = Arc::new(accounts);
    let mut http = http1::Builder::new();
    // The head's time limit is kept per connection (`head_deadline`), not by hyper's timer,
    // which would arm and disarm a timer entry for every request. Half-closed connections are
    // served: a client that shuts its sending side while it waits still gets its answer (and
    // the push's handling is not cancelled under it), and hyper does not try a read for an
    // early end of stream, with a fresh 8 KiB buffer, while each request is being handled.
    http.header_read_timeout(None)
        .half_close(true)
        .max_header_size(limits.max_header_bytes)
        .max_buf_size(limits.max_header_bytes.max(DEFAULT_READ_BUFFER));
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let graceful = GracefulShutdown::new();
    let mut at_cap = false;
    tokio::pin!(shutdown);
    loop {
        let slot = match Arc::clone(&slots).try_acquire_owned() {
            Ok(slot) => {
                at_cap = false;
                slot
            }
            Err(_) => {
                if !at_cap {
                    at_cap = true;
                    tracing::warn!(
                        max_connections = limits.max_connections,
                        "server.max_connections reached: new clients wait until a connection closes"
                    );
                    metrics::counter!(crate::metrics::CONNECTIONS_CAPPED).increment(1);
                }
                tokio::select! {
                    () = &mut shutdown => break,
                    slot = Arc::clone(&slots).acquire_owned() => match slot {
                        Ok(slot) => slot,
                        Err(_) => break, // never closed
                    },
                }
            }
        };
        let accepted = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((tcp, peer)) => {
                let connection = Connection {
                    http: http.clone(),
                    service: service.clone(),
                    accounts: Arc::clone(&accounts),
                    header_timeout: limits.header_timeout,
                    linger: limits.linger,
                    watcher: graceful.watcher(),
                    _slot: slot,
                    peer,
                };
                tokio::spawn(connection.run(tcp, tls.clone()));
            }
            Err(e) if is_connection_error(&e) => {}
            Err(e) => {
                // Out of file descriptors and the like: wait for connections to close.
                tracing::error!(error = %e, "accept failed");
                tokio::select! {
                    () = &mut shutdown => break,
                    () = tokio::time::sleep(ACCEPT_ERROR_PAUSE) => {}
                }
            }
        }
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

/// hyper's own read buffer limit, kept when the head limit is smaller: bodies stream through
/// the same buffer.
const DEFAULT_READ_BUFFER: usize = 8192 + 4096 * 100;

/// One accepted connection and what serving it needs.
struct Connection {
    http: http1::Builder,
    service: TowerToHyperService<axum::Router>,
    /// For the callbacks, answered without the router's per-request work (its extensions,
    /// boxed futures and service clones); every other request goes through `service`.
    accounts: Arc<Accounts>,
    header_timeout: Duration,
    linger: LingerLimits,
    watcher: Watcher,
    /// Held until the connection closes.
    _slot: OwnedSemaphorePermit,
    peer: SocketAddr,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("peer", &self.peer)
            .finish_non_exhaustive()
    }
}

impl Connection {
    async fn run(self, tcp: TcpStream, tls: Option<TlsSetup>) {
        let Some(tls) = tls else {
            return self.serve(tcp).await;
        };
        match tokio::time::timeout(tls.handshake_timeout, tls.acceptor.accept(tcp)).await {
            Ok(Ok(stream)) => self.serve(stream).await,
            Ok(Err(e)) => crate::tls::log_handshake_error(self.peer, &e),
            Err(_) => tracing::debug!(peer = %self.peer, "TLS handshake timed out"),
        }
    }

    async fn serve<S>(self, stream: S)
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let io = TokioIo::new(Lingering::new(stream, self.linger));
        let activity = Arc::new(Activity::default());
        let tracked = Arc::clone(&activity);
        let (service, accounts) = (self.service, self.accounts);
        let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
            tracked.start();
            let route = match edge::callback_app(&accounts, &request) {
                Some(app) => Route::Callback(Arc::clone(app), request),
                None => Route::Router(hyper::service::Service::call(&service, request)),
            };
            let tracked = Arc::clone(&tracked);
            async move {
                let response = match route {
                    Route::Callback(app, request) => {
                        Ok(edge::answer_callback(&app, request.map(Body::new)).await)
                    }
                    Route::Router(response) => response.await,
                };
                tracked.finish();
                response
            }
        });
        let connection = self.watcher.watch(self.http.serve_connection(io, service));
        tokio::select! {
            biased;
            served = connection => {
                if let Err(e) = served {
                    log_connection_error(self.peer, &e);
                }
            }
            () = head_deadline(&activity, self.header_timeout) => {
                tracing::debug!(peer = %self.peer, "closed a connection: no request head within server.header_timeout_ms");
            }
        }
    }
}

/// Where a request goes: straight to its account's callback, or through the router.
#[allow(clippy::large_enum_variant)] // moved once into the request's future; boxing would cost an allocation
enum Route<F> {
    Callback(Arc<App>, hyper::Request<Incoming>),
    Router(F),
}

/// Bad request heads are worth a line (they are answered 400, 414 or 431 by hyper itself);
/// timeouts and clients going away are routine.
fn log_connection_error(peer: SocketAddr, e: &hyper::Error) {
    if e.is_parse() || e.is_parse_too_large() {
        tracing::info!(%peer, error = %e, "refused a request head");
    } else {
        tracing::debug!(%peer, error = %e, "connection ended with an error");
    }
}

fn is_connection_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}
