//! The HTTP client of actions. Scripts call only hosts on the `[script] http_allow` list, with a
//! timeout, a body size cap and a per-run call budget; redirects are followed by hand so every
//! hop is checked against the list. Webhooks use the same client for the URL their rule names.

use std::fmt::Write as _;
use std::time::Duration;

use reqwest::header::{CONTENT_TYPE, LOCATION};
use reqwest::{Method, StatusCode, Url};

/// Redirects a script's request may follow.
const MAX_REDIRECTS: usize = 5;

/// An HTTP call of an action that did not give a usable answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HttpError {
    /// The URL's host is not on the allow-list.
    #[error(
        "host `{host}` is not allowed for scripts (allowed: {allowed}); add it to `http_allow` in [script]"
    )]
    HostNotAllowed {
        /// The refused host (with its port when the URL gives one).
        host: String,
        /// The allow-list as configured, or `none`.
        allowed: String,
    },
    /// The URL does not parse, or is not `http://`/`https://` with a host.
    #[error("`{url}` is not an http:// or https:// URL: {reason}")]
    BadUrl {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// No complete answer within the timeout.
    #[error("{url} did not answer within {timeout_ms} ms")]
    Timeout {
        /// The URL (query hidden).
        url: String,
        /// The timeout.
        timeout_ms: u64,
    },
    /// The server answered with a status other than 2xx.
    #[error("{url} answered HTTP {status}")]
    Status {
        /// The URL (query hidden).
        url: String,
        /// The HTTP status code.
        status: u16,
    },
    /// The answer's body is larger than allowed.
    #[error("{url} answered more than {limit} bytes")]
    TooLarge {
        /// The URL (query hidden).
        url: String,
        /// The size limit in bytes.
        limit: usize,
    },
    /// The script made more HTTP calls than one run may.
    #[error("more than {limit} HTTP calls in one run; raise `max_http_calls` in [script]")]
    TooManyCalls {
        /// The configured `max_http_calls`.
        limit: u32,
    },
    /// The server redirected too often.
    #[error("{url} redirected more than {max} times")]
    TooManyRedirects {
        /// The last URL (query hidden).
        url: String,
        /// The redirect limit.
        max: usize,
    },
    /// The request could not be made or the answer not read (DNS, connection, TLS, …).
    #[error("request to {url} failed: {reason}")]
    Transport {
        /// The URL (query hidden).
        url: String,
        /// Why, with the underlying causes.
        reason: String,
    },
    /// The HTTP client could not be built (TLS setup).
    #[error("cannot build the HTTP client: {reason}")]
    Client {
        /// Why.
        reason: String,
    },
}

/// One allow-list entry: `api.example.com`, `*.example.com` (subdomains only) or either with
/// `:port` (otherwise any port).
#[derive(Debug, Clone, PartialEq, Eq)]
struct HostRule {
    /// The host in lower case; for a wildcard, the suffix with its leading dot.
    host: String,
    wildcard: bool,
    port: Option<u16>,
    /// As written, for messages.
    written: String,
}

impl HostRule {
    fn parse(entry: &str) -> Result<Self, String> {
        let written = entry.trim();
        if written.is_empty() {
            return Err("an entry is empty".to_owned());
        }
        if written.contains("://") || written.contains(['/', '?', '#', '@']) {
            return Err(format!(
                "`{written}` must be a host such as api.example.com, *.example.com or host:port, without scheme or path"
            ));
        }
        let (wildcard, rest) = match written.strip_prefix("*.") {
            Some(rest) => (true, rest),
            None => (false, written),
        };
        let (host, port) = split_port(rest)
            .ok_or_else(|| format!("`{written}` has a port that is not a number 1-65535"))?;
        let url = Url::parse(&format!("http://{host}/"))
            .map_err(|e| format!("`{written}` is not a valid host: {e}"))?;
        let Some(host) = url.host_str() else {
            return Err(format!("`{written}` is not a valid host"));
        };
        Ok(Self {
            host: if wildcard {
                format!(".{host}")
            } else {
                host.to_owned()
            },
            wildcard,
            port,
            written: written.to_owned(),
        })
    }

    fn allows(&self, host: &str, port: Option<u16>) -> bool {
        let host_ok = if self.wildcard {
            host.ends_with(&self.host)
        } else {
            host == self.host
        };
        host_ok && self.port.is_none_or(|p| Some(p) == port)
    }
}

/// `host` and its port: `None` when the port is not a valid number.
fn split_port(s: &str) -> Option<(&str, Option<u16>)> {
    let colon = if s.starts_with('[') {
        // `[::1]` or `[::1]:8080`
        let close = s.find(']')?;
        match &s[close + 1..] {
            "" => return Some((s, None)),
            rest if rest.starts_with(':') => close + 1,
            _ => return None,
        }
    } else {
        match s.rfind(':') {
            Some(i) => i,
            None => return Some((s, None)),
        }
    };
    let port: u16 = s[colon + 1..].parse().ok().filter(|p| *p != 0)?;
    Some((&s[..colon], Some(port)))
}

/// Where scripts may go over HTTP and how long they may wait: `[script] http_allow`,
/// `http_timeout_ms`, `max_http_calls` and `max_string_bytes` (the body cap).
///
/// Allow-list entries: `api.example.com` (that host, any port), `*.example.com` (its
/// subdomains, not the domain itself), `host:port` (that port only); hosts compare
/// case-insensitively. Only `http://` and `https://` URLs are accepted.
#[derive(Debug, Clone)]
pub struct HttpPolicy {
    allow: Vec<HostRule>,
    timeout: Duration,
    max_body_bytes: usize,
    max_calls: u32,
}

impl Default for HttpPolicy {
    /// No host allowed; 3 s timeout, 64 KiB bodies, 5 calls.
    fn default() -> Self {
        Self {
            allow: Vec::new(),
            timeout: Duration::from_millis(3000),
            max_body_bytes: 64 * 1024,
            max_calls: 5,
        }
    }
}

impl HttpPolicy {
    /// A policy allowing `hosts` (entry forms above).
    ///
    /// # Errors
    /// The first entry that is not a host, as a sentence naming it.
    pub fn new(
        hosts: &[String],
        timeout: Duration,
        max_body_bytes: usize,
        max_calls: u32,
    ) -> Result<Self, String> {
        Ok(Self {
            allow: hosts
                .iter()
                .map(|h| HostRule::parse(h))
                .collect::<Result<_, _>>()?,
            timeout,
            max_body_bytes,
            max_calls,
        })
    }

    /// The timeout of one call (redirects and body included).
    #[must_use]
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The most calls one run may make.
    #[must_use]
    pub fn max_calls(&self) -> u32 {
        self.max_calls
    }

    /// The largest body an answer may have.
    #[must_use]
    pub fn max_body_bytes(&self) -> usize {
        self.max_body_bytes
    }

    /// `url` parsed, when it is `http(s)://` and its host is allowed.
    ///
    /// # Errors
    /// [`HttpError::BadUrl`] or [`HttpError::HostNotAllowed`].
    pub fn check(&self, url: &str) -> Result<Url, HttpError> {
        let parsed = parse_http_url(url)?;
        let host = parsed.host_str().unwrap_or_default();
        let port = parsed.port_or_known_default();
        if self.allow.iter().any(|r| r.allows(host, port)) {
            return Ok(parsed);
        }
        let allowed = if self.allow.is_empty() {
            "none".to_owned()
        } else {
            self.allow
                .iter()
                .map(|r| r.written.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        Err(HttpError::HostNotAllowed {
            host: match parsed.port() {
                Some(p) => format!("{host}:{p}"),
                None => host.to_owned(),
            },
            allowed,
        })
    }
}

/// Parse an `http://` or `https://` URL with a host.
pub(crate) fn parse_http_url(url: &str) -> Result<Url, HttpError> {
    let bad = |reason: String| HttpError::BadUrl {
        url: url.to_owned(),
        reason,
    };
    let parsed = Url::parse(url).map_err(|e| bad(e.to_string()))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(bad(format!("scheme `{}` is not allowed", parsed.scheme())));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(bad("it has no host".to_owned()));
    }
    Ok(parsed)
}

/// A URL for messages and logs: its query (which may hold keys) hidden.
pub(crate) fn shown(url: &Url) -> String {
    let mut u = url.clone();
    let had_query = u.query().is_some();
    u.set_query(None);
    u.set_fragment(None);
    let mut s = u.to_string();
    if had_query {
        s.push_str("?…");
    }
    s
}

/// An error and its causes, `a: b: c`.
pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !s.contains(&text) {
            let _ = write!(s, ": {text}");
        }
        source = cause.source();
    }
    s
}

/// A successful answer of a script's call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Fetched {
    /// The `Content-Type` header, if any.
    pub(crate) content_type: Option<String>,
    /// The body.
    pub(crate) body: Vec<u8>,
}

impl Fetched {
    /// True when the answer says it is JSON.
    pub(crate) fn is_json(&self) -> bool {
        self.content_type
            .as_deref()
            .is_some_and(|t| t.to_ascii_lowercase().contains("json"))
    }
}

/// The shared HTTP client of actions (a connection pool); cheap to clone.
#[derive(Debug, Clone)]
pub struct HttpClient {
    client: reqwest::Client,
}

impl HttpClient {
    /// A client that follows no redirects by itself and names itself `wxoa/<version>`.
    ///
    /// # Errors
    /// [`HttpError::Client`] when TLS cannot be set up.
    pub fn new() -> Result<Self, HttpError> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("wxoa/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| HttpError::Client {
                reason: error_chain(&e),
            })?;
        Ok(Self { client })
    }

    /// The underlying client.
    pub(crate) fn inner(&self) -> &reqwest::Client {
        &self.client
    }

    /// A script's call: `GET url`, or `POST url` with a JSON body, under `policy`.
    ///
    /// # Errors
    /// The URL is refused, the server fails or is slow, the body is too large.
    pub(crate) async fn fetch(
        &self,
        policy: &HttpPolicy,
        url: &str,
        json_body: Option<Vec<u8>>,
    ) -> Result<Fetched, HttpError> {
        let first = policy.check(url)?;
        let shown_url = shown(&first);
        tokio::time::timeout(policy.timeout, self.fetch_checked(policy, first, json_body))
            .await
            .map_err(|_| HttpError::Timeout {
                url: shown_url,
                timeout_ms: u64::try_from(policy.timeout.as_millis()).unwrap_or(u64::MAX),
            })?
    }

    async fn fetch_checked(
        &self,
        policy: &HttpPolicy,
        mut url: Url,
        mut body: Option<Vec<u8>>,
    ) -> Result<Fetched, HttpError> {
        for _ in 0..=MAX_REDIRECTS {
            let method = if body.is_some() {
                Method::POST
            } else {
                Method::GET
            };
            let mut request = self.client.request(method, url.clone());
            if let Some(b) = &body {
                request = request
                    .header(CONTENT_TYPE, "application/json")
                    .body(b.clone());
            }
            let response = request.send().await.map_err(|e| HttpError::Transport {
                url: shown(&url),
                reason: error_chain(&e),
            })?;
            let status = response.status();
            if status.is_redirection()
                && let Some(location) = response.headers().get(LOCATION)
            {
                let next = location
                    .to_str()
                    .ok()
                    .and_then(|l| url.join(l).ok())
                    .ok_or_else(|| HttpError::Transport {
                        url: shown(&url),
                        reason: "redirect with an unreadable Location".to_owned(),
                    })?;
                url = policy.check(next.as_str())?;
                if matches!(
                    status,
                    StatusCode::MOVED_PERMANENTLY | StatusCode::FOUND | StatusCode::SEE_OTHER
                ) {
                    body = None;
                }
                continue;
            }
            if !status.is_success() {
                return Err(HttpError::Status {
                    url: shown(&url),
                    status: status.as_u16(),
                });
            }
            let content_type = response
                .headers()
                .get(CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let body = read_limited(response, policy.max_body_bytes, &url).await?;
            return Ok(Fetched { content_type, body });
        }
        Err(HttpError::TooManyRedirects {
            url: shown(&url),
            max: MAX_REDIRECTS,
        })
    }
}

/// The body of `response`, refusing more than `limit` bytes.
pub(crate) async fn read_limited(
    mut response: reqwest::Response,
    limit: usize,
    url: &Url,
) -> Result<Vec<u8>, HttpError> {
    let too_large = || HttpError::TooLarge {
        url: shown(url),
        limit,
    };
    if response
        .content_length()
        .is_some_and(|n| n > u64::try_from(limit).unwrap_or(u64::MAX))
    {
        return Err(too_large());
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| HttpError::Transport {
        url: shown(url),
        reason: error_chain(&e),
    })? {
        if body.len() + chunk.len() > limit {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(hosts: &[&str]) -> HttpPolicy {
        let hosts: Vec<String> = hosts.iter().map(|h| (*h).to_owned()).collect();
        HttpPolicy::new(&hosts, Duration::from_secs(1), 1024, 5).unwrap()
    }

    #[test]
    fn exact_hosts_wildcards_and_ports() {
        let p = policy(&["API.example.com", "*.jokes.test", "127.0.0.1:8080"]);
        assert!(p.check("https://api.example.com/x?y=1").is_ok());
        assert!(p.check("http://api.example.com:9999/").is_ok());
        assert!(p.check("https://a.jokes.test/").is_ok());
        assert!(p.check("https://a.b.jokes.test/").is_ok());
        assert!(p.check("https://jokes.test/").is_err());
        assert!(p.check("https://evil-jokes.test/").is_err());
        assert!(p.check("http://127.0.0.1:8080/").is_ok());
        assert!(p.check("http://127.0.0.1:8081/").is_err());
        assert!(p.check("https://api.example.com.evil.test/").is_err());
    }

    #[test]
    fn refusal_names_host_and_list() {
        let p = policy(&["api.example.com"]);
        let e = p.check("https://evil.test:8443/steal").unwrap_err();
        assert_eq!(
            e,
            HttpError::HostNotAllowed {
                host: "evil.test:8443".into(),
                allowed: "api.example.com".into()
            }
        );
        let e = HttpPolicy::default().check("https://a.test/").unwrap_err();
        assert!(e.to_string().contains("allowed: none"), "{e}");
    }

    #[test]
    fn bad_urls_and_schemes() {
        let p = policy(&["a.test"]);
        assert!(matches!(
            p.check("file:///etc/passwd"),
            Err(HttpError::BadUrl { .. })
        ));
        assert!(matches!(p.check("a.test/x"), Err(HttpError::BadUrl { .. })));
        assert!(
            p.check("ftp://a.test/")
                .unwrap_err()
                .to_string()
                .contains("ftp")
        );
    }

    #[test]
    fn bad_allow_entries_are_refused() {
        for bad in [
            "https://a.test",
            "a.test/path",
            "",
            "a.test:http",
            "a.test:0",
        ] {
            let hosts = vec![bad.to_owned()];
            assert!(
                HttpPolicy::new(&hosts, Duration::from_secs(1), 1, 1).is_err(),
                "{bad}"
            );
        }
        let hosts = vec!["[::1]:8080".to_owned(), "[::1]".to_owned()];
        let p = HttpPolicy::new(&hosts, Duration::from_secs(1), 1, 1).unwrap();
        assert!(p.check("http://[::1]:9/").is_ok());
    }

    #[test]
    fn shown_hides_the_query() {
        let u = Url::parse("https://a.test/p?key=secret#f").unwrap();
        assert_eq!(shown(&u), "https://a.test/p?…");
        let u = Url::parse("https://a.test/p").unwrap();
        assert_eq!(shown(&u), "https://a.test/p");
    }

    #[test]
    fn client_builds() {
        assert!(HttpClient::new().is_ok());
    }
}
