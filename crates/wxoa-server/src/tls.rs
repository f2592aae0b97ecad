//! HTTPS for `wxoa serve`: rustls on a TCP listener, with the certificate and key reloaded
//! when their files change (certificate renewal without a restart).
//!
//! [`CertStore`] holds the certificate in force and answers every TLS handshake with it;
//! [`CertStore::reload_if_changed`] reads both PEM files again and swaps in the new pair only
//! when it is complete and consistent, so a half-written renewal or a key that does not match
//! keeps the previous certificate serving. [`serve_tls`] polls the files every
//! [`TlsOptions::reload_interval`] and serves the callback through the shared accept loop
//! ([`crate::accept`]), which completes each handshake in the connection's own task so a slow
//! client never holds up the others.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arc_swap::ArcSwap;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use sha2::{Digest, Sha256};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;

use crate::accept::{TlsSetup, serve_connections};
use crate::accounts::Accounts;

/// How often [`serve_tls`] checks the certificate and key files for changes by default.
pub const DEFAULT_RELOAD_INTERVAL: Duration = Duration::from_secs(5);
/// How long a client gets to complete its TLS handshake by default.
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// A certificate or key file that cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// The file could not be read.
    #[error("cannot read the TLS {what} {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// `certificate` (server.tls_cert) or `private key` (server.tls_key).
        what: &'static str,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// The certificate file has no (readable) PEM certificate.
    #[error(
        "{}: no certificate found (server.tls_cert must be a PEM file starting with -----BEGIN CERTIFICATE-----, the full chain: server certificate first){}",
        path.display(),
        detail.as_deref().map(|d| format!(": {d}")).unwrap_or_default()
    )]
    NoCertificate {
        /// The file.
        path: PathBuf,
        /// What the PEM parser said, if it failed.
        detail: Option<String>,
    },
    /// The key file has no (readable) PEM private key.
    #[error(
        "{}: no private key found (server.tls_key must be a PEM file with -----BEGIN PRIVATE KEY-----, RSA PRIVATE KEY or EC PRIVATE KEY){}",
        path.display(),
        detail.as_deref().map(|d| format!(": {d}")).unwrap_or_default()
    )]
    NoKey {
        /// The file.
        path: PathBuf,
        /// What the PEM parser said, if it failed.
        detail: Option<String>,
    },
    /// The private key parsed as PEM but rustls cannot use it.
    #[error("{}: the private key cannot be used: {message}", path.display())]
    BadKey {
        /// The key file.
        path: PathBuf,
        /// rustls's explanation.
        message: String,
    },
    /// The certificate and the key do not belong together (or the certificate is not valid
    /// X.509).
    #[error(
        "{} does not go with the certificate {}: {message} (renew both files together)",
        key.display(),
        cert.display()
    )]
    Mismatch {
        /// The certificate file.
        cert: PathBuf,
        /// The key file.
        key: PathBuf,
        /// rustls's explanation.
        message: String,
    },
    /// rustls refused to build a server configuration.
    #[error("cannot set up TLS: {0}")]
    Config(String),
}

/// Settings of [`serve_tls`].
#[derive(Debug, Clone, Copy)]
pub struct TlsOptions {
    /// How often the certificate and key files are checked for changes.
    pub reload_interval: Duration,
    /// How long a client gets to complete its handshake before the connection is dropped.
    pub handshake_timeout: Duration,
}

impl Default for TlsOptions {
    fn default() -> Self {
        Self {
            reload_interval: DEFAULT_RELOAD_INTERVAL,
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
        }
    }
}

/// The certificate in force, reloadable from its PEM files; answers every handshake.
pub struct CertStore {
    cert_path: PathBuf,
    key_path: PathBuf,
    provider: Arc<CryptoProvider>,
    current: ArcSwap<CertifiedKey>,
    /// SHA-256 of the cert and key file contents last seen (loaded or refused).
    seen: Mutex<[u8; 32]>,
}

impl fmt::Debug for CertStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CertStore")
            .field("cert_path", &self.cert_path)
            .field("key_path", &self.key_path)
            .finish_non_exhaustive()
    }
}

impl CertStore {
    /// Load the certificate chain at `cert` and the private key at `key` (both PEM).
    ///
    /// # Errors
    /// A [`TlsError`] naming the file that cannot be read or used, or saying that the key does
    /// not match the certificate.
    pub fn load(cert: impl Into<PathBuf>, key: impl Into<PathBuf>) -> Result<Self, TlsError> {
        let cert_path = cert.into();
        let key_path = key.into();
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let (certified, digest) = read_pair(&cert_path, &key_path, &provider)?;
        Ok(Self {
            cert_path,
            key_path,
            provider,
            current: ArcSwap::from_pointee(certified),
            seen: Mutex::new(digest),
        })
    }

    /// The certificate file (`server.tls_cert`).
    #[must_use]
    pub fn cert_path(&self) -> &Path {
        &self.cert_path
    }

    /// The private key file (`server.tls_key`).
    #[must_use]
    pub fn key_path(&self) -> &Path {
        &self.key_path
    }

    /// The certificate chain and key new handshakes get.
    #[must_use]
    pub fn current(&self) -> Arc<CertifiedKey> {
        self.current.load_full()
    }

    /// Read both files again and, if their contents changed since the last look, put the new
    /// pair in force. Returns whether it did.
    ///
    /// A changed pair that does not load is remembered as seen, so it is reported once, not on
    /// every poll; it is tried again as soon as either file changes again (e.g. the key of a
    /// renewal written after its certificate).
    ///
    /// # Errors
    /// The files changed but do not load; the previous certificate stays in force.
    pub fn reload_if_changed(&self) -> Result<bool, TlsError> {
        let cert_pem = read_file(&self.cert_path, "certificate")?;
        let key_pem = read_file(&self.key_path, "private key")?;
        let digest = digest(&cert_pem, &key_pem);
        {
            let mut seen = self
                .seen
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if *seen == digest {
                return Ok(false);
            }
            *seen = digest;
        }
        let certified = parse_pair(
            &self.cert_path,
            &cert_pem,
            &self.key_path,
            &key_pem,
            &self.provider,
        )?;
        self.current.store(Arc::new(certified));
        Ok(true)
    }

    /// A rustls server config answering every handshake with the certificate in force
    /// (HTTP/1.1 over ALPN).
    ///
    /// # Errors
    /// [`TlsError::Config`] if the crypto provider supports none of rustls's default protocol
    /// versions (it always does).
    pub fn server_config(self: &Arc<Self>) -> Result<Arc<rustls::ServerConfig>, TlsError> {
        let resolver: Arc<dyn ResolvesServerCert> = Arc::clone(self) as _;
        let mut config = rustls::ServerConfig::builder_with_provider(Arc::clone(&self.provider))
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsError::Config(e.to_string()))?
            .with_no_client_auth()
            .with_cert_resolver(resolver);
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }
}

impl ResolvesServerCert for CertStore {
    fn resolve(&self, _client_hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current.load_full())
    }
}

fn read_file(path: &Path, what: &'static str) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read {
        path: path.to_owned(),
        what,
        source,
    })
}

fn digest(cert_pem: &[u8], key_pem: &[u8]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update((cert_pem.len() as u64).to_be_bytes());
    hasher.update(cert_pem);
    hasher.update(key_pem);
    hasher.finalize().into()
}

fn read_pair(
    cert_path: &Path,
    key_path: &Path,
    provider: &CryptoProvider,
) -> Result<(CertifiedKey, [u8; 32]), TlsError> {
    let cert_pem = read_file(cert_path, "certificate")?;
    let key_pem = read_file(key_path, "private key")?;
    let certified = parse_pair(cert_path, &cert_pem, key_path, &key_pem, provider)?;
    Ok((certified, digest(&cert_pem, &key_pem)))
}

/// The PEM parser's complaint in words (its own display prints markers as byte lists).
fn pem_problem(e: &rustls::pki_types::pem::Error) -> String {
    use rustls::pki_types::pem::Error;
    match e {
        Error::MissingSectionEnd { end_marker } => format!(
            "a section never ends: no -----END {}----- line (truncated file?)",
            String::from_utf8_lossy(end_marker)
        ),
        Error::IllegalSectionStart { line } => {
            format!("malformed BEGIN line {:?}", String::from_utf8_lossy(line))
        }
        Error::Base64Decode(why) => format!("the base64 inside is damaged ({why})"),
        other => other.to_string(),
    }
}

fn parse_pair(
    cert_path: &Path,
    cert_pem: &[u8],
    key_path: &Path,
    key_pem: &[u8],
    provider: &CryptoProvider,
) -> Result<CertifiedKey, TlsError> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert_pem)
        .collect::<Result<_, _>>()
        .map_err(|e| TlsError::NoCertificate {
            path: cert_path.to_owned(),
            detail: Some(pem_problem(&e)),
        })?;
    if chain.is_empty() {
        return Err(TlsError::NoCertificate {
            path: cert_path.to_owned(),
            detail: None,
        });
    }
    let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(|e| TlsError::NoKey {
        path: key_path.to_owned(),
        detail: match e {
            rustls::pki_types::pem::Error::NoItemsFound => None,
            other => Some(pem_problem(&other)),
        },
    })?;
    let signing_key =
        provider
            .key_provider
            .load_private_key(key)
            .map_err(|e| TlsError::BadKey {
                path: key_path.to_owned(),
                message: e.to_string(),
            })?;
    let certified = CertifiedKey::new(chain, signing_key);
    match certified.keys_match() {
        Ok(()) | Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::Unknown)) => {
            Ok(certified)
        }
        Err(e) => Err(TlsError::Mismatch {
            cert: cert_path.to_owned(),
            key: key_path.to_owned(),
            message: e.to_string(),
        }),
    }
}

/// Check the files of `certs` every `interval` and put a changed pair in force; a pair that
/// does not load is logged and the previous certificate keeps serving. Runs until aborted.
pub fn spawn_cert_reloader(certs: Arc<CertStore>, interval: Duration) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // The first tick completes at once; the files were just loaded.
        ticks.tick().await;
        loop {
            ticks.tick().await;
            match certs.reload_if_changed() {
                Ok(true) => tracing::info!(
                    cert = %certs.cert_path().display(),
                    key = %certs.key_path().display(),
                    "TLS certificate reloaded; new connections use it"
                ),
                Ok(false) => {}
                Err(e) => tracing::error!(
                    error = %e,
                    "TLS certificate not reloaded; the previous certificate stays in force"
                ),
            }
        }
    })
}

/// Aborts a background task when dropped.
#[derive(Debug)]
struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// A client refusing our certificate is worth a warning (the platform will refuse it too);
/// other handshake failures (scanners, plain HTTP on the TLS port) are routine.
pub(crate) fn log_handshake_error(peer: SocketAddr, e: &io::Error) {
    let rustls_error = e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>());
    if let Some(rustls::Error::AlertReceived(alert)) = rustls_error {
        use rustls::AlertDescription as A;
        if matches!(
            alert,
            A::BadCertificate
                | A::UnsupportedCertificate
                | A::CertificateRevoked
                | A::CertificateExpired
                | A::CertificateUnknown
                | A::UnknownCA
        ) {
            tracing::warn!(
                %peer,
                alert = ?alert,
                "a client refused the TLS certificate (expired, self-signed, or missing its chain?)"
            );
            return;
        }
    }
    tracing::debug!(%peer, error = %e, "TLS handshake failed");
}

/// Serve the callback over HTTPS on `listener` until `shutdown` resolves, then finish the
/// requests in flight; the certificate files are checked for changes every
/// [`TlsOptions::reload_interval`] meanwhile.
///
/// # Errors
/// The listener fails.
pub async fn serve_tls<F>(
    listener: TcpListener,
    accounts: impl Into<Accounts>,
    certs: Arc<CertStore>,
    options: TlsOptions,
    shutdown: F,
) -> io::Result<()>
where
    F: std::future::Future<Output = ()> + Send + 'static,
{
    let config = certs.server_config().map_err(io::Error::other)?;
    let tls = TlsSetup {
        acceptor: TlsAcceptor::from(config),
        handshake_timeout: options.handshake_timeout,
    };
    let _reloader = AbortOnDrop(spawn_cert_reloader(certs, options.reload_interval));
    serve_connections(listener, accounts.into(), Some(tls), shutdown).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("wxoa-tls-unit-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn self_signed() -> (String, String) {
        let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
        (cert.cert.pem(), cert.signing_key.serialize_pem())
    }

    #[test]
    fn loads_a_pair_and_reloads_only_on_change() {
        let dir = temp_dir("reload");
        let (cert, key) = self_signed();
        std::fs::write(dir.join("c.pem"), &cert).unwrap();
        std::fs::write(dir.join("k.pem"), &key).unwrap();
        let store = CertStore::load(dir.join("c.pem"), dir.join("k.pem")).unwrap();
        let first = store.current().cert[0].clone();
        assert!(!store.reload_if_changed().unwrap());

        let (cert2, key2) = self_signed();
        std::fs::write(dir.join("c.pem"), &cert2).unwrap();
        // Certificate renewed, key not yet: refused once, the old pair stays.
        let err = store.reload_if_changed().unwrap_err();
        assert!(matches!(err, TlsError::Mismatch { .. }), "{err}");
        assert_eq!(store.current().cert[0], first);
        // Not reported again while nothing changes.
        assert!(!store.reload_if_changed().unwrap());
        std::fs::write(dir.join("k.pem"), &key2).unwrap();
        assert!(store.reload_if_changed().unwrap());
        assert_ne!(store.current().cert[0], first);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn errors_name_the_file() {
        let dir = temp_dir("errors");
        let (cert, key) = self_signed();
        std::fs::write(dir.join("c.pem"), &cert).unwrap();
        std::fs::write(dir.join("k.pem"), &key).unwrap();
        std::fs::write(dir.join("junk.pem"), "not pem at all\n").unwrap();

        let err = CertStore::load(dir.join("missing.pem"), dir.join("k.pem")).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("missing.pem") && text.contains("certificate"),
            "{text}"
        );

        std::fs::write(dir.join("cut.pem"), &cert[..cert.len() / 2]).unwrap();
        let err = CertStore::load(dir.join("cut.pem"), dir.join("k.pem")).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("cut.pem") && text.contains("-----END CERTIFICATE-----"),
            "{text}"
        );

        let err = CertStore::load(dir.join("junk.pem"), dir.join("k.pem")).unwrap_err();
        let text = err.to_string();
        assert!(matches!(err, TlsError::NoCertificate { .. }), "{text}");
        assert!(
            text.contains("junk.pem") && text.contains("BEGIN CERTIFICATE"),
            "{text}"
        );

        let err = CertStore::load(dir.join("c.pem"), dir.join("junk.pem")).unwrap_err();
        let text = err.to_string();
        assert!(matches!(err, TlsError::NoKey { .. }), "{text}");
        assert!(
            text.contains("junk.pem") && text.contains("PRIVATE KEY"),
            "{text}"
        );

        // Certificate and key swapped.
        let err = CertStore::load(dir.join("k.pem"), dir.join("c.pem")).unwrap_err();
        assert!(err.to_string().contains("k.pem"), "{err}");
        std::fs::remove_dir_all(dir).unwrap();
    }
}
