//! CGI mode: one request from the CGI environment (REQUEST_METHOD, QUERY_STRING,
//! CONTENT_LENGTH, stdin; PATH_INFO / SCRIPT_NAME choose the account), one CGI response on
//! stdout, with the same edge behaviour as `serve`.

use std::io::{Read, Write};

use crate::app::App;
use crate::config::Config;
use crate::error::EdgeError;
use crate::service::{self, EdgeRequest, EdgeResponse};

/// A request read from the CGI environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CgiRequest {
    /// REQUEST_METHOD.
    pub method: String,
    /// QUERY_STRING.
    pub query: String,
    /// The body read from stdin (CONTENT_LENGTH bytes).
    pub body: Vec<u8>,
}

/// Read the request from the environment (through `var`, so tests need not touch the process
/// environment) and `stdin`, refusing bodies over `max_body_bytes` without reading them.
///
/// # Errors
/// A missing or invalid CONTENT_LENGTH on a POST, a body over the limit, or a short read.
pub fn read_request<F, R>(
    var: F,
    stdin: &mut R,
    max_body_bytes: usize,
) -> Result<CgiRequest, EdgeError>
where
    F: Fn(&str) -> Option<String>,
    R: Read,
{
    let method = var("REQUEST_METHOD").unwrap_or_else(|| "GET".to_owned());
    let query = var("QUERY_STRING").unwrap_or_default();
    let length = match var("CONTENT_LENGTH").filter(|v| !v.trim().is_empty()) {
        None => 0,
        Some(v) => v
            .trim()
            .parse::<usize>()
            .map_err(|_| EdgeError::Malformed(format!("CONTENT_LENGTH is not a number: {v:?}")))?,
    };
    if length > max_body_bytes {
        return Err(EdgeError::TooLarge {
            max: max_body_bytes,
        });
    }
    let mut body = vec![0; length];
    stdin
        .read_exact(&mut body)
        .map_err(|e| EdgeError::Malformed(format!("body shorter than CONTENT_LENGTH: {e}")))?;
    Ok(CgiRequest {
        method,
        query,
        body,
    })
}

/// Which account of `config` a CGI request is for (an index into [`Config::accounts`]): with
/// `[account]` the only one; with `[[accounts]]` the one whose callback path is PATH_INFO, or
/// SCRIPT_NAME followed by PATH_INFO. `None` when no account's path matches.
pub fn account_for_request<F>(config: &Config, var: F) -> Option<usize>
where
    F: Fn(&str) -> Option<String>,
{
    if !config.multi_account {
        return Some(0);
    }
    let info = var("PATH_INFO").unwrap_or_default();
    let full = format!("{}{info}", var("SCRIPT_NAME").unwrap_or_default());
    config
        .accounts
        .iter()
        .position(|e| e.server.path == info || e.server.path == full)
}

/// The answer to a CGI request for a path where no account is.
#[must_use]
pub fn not_found() -> EdgeResponse {
    EdgeResponse {
        status: 404,
        content_type: "text/plain; charset=utf-8",
        body: "not found: no account's callback is at this path\n".to_owned(),
    }
}

/// Write `response` as a CGI response (Status and Content-Type headers, a blank line, the
/// body).
///
/// # Errors
/// The output cannot be written.
pub fn write_response<W: Write>(out: &mut W, response: &EdgeResponse) -> std::io::Result<()> {
    let reason = axum::http::StatusCode::from_u16(response.status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("");
    write!(
        out,
        "Status: {} {reason}\r\nContent-Type: {}\r\nContent-Length: {}\r\n\r\n",
        response.status,
        response.content_type,
        response.body.len()
    )?;
    out.write_all(response.body.as_bytes())?;
    out.flush()
}

/// Serve one CGI request: read it, answer it, write the response.
///
/// # Errors
/// The response cannot be written to `out`.
pub async fn serve_one<F, R, W>(
    app: &std::sync::Arc<App>,
    var: F,
    stdin: &mut R,
    out: &mut W,
) -> std::io::Result<()>
where
    F: Fn(&str) -> Option<String>,
    R: Read,
    W: Write,
{
    let response = match read_request(var, stdin, app.server().max_body_bytes) {
        Ok(request) => {
            service::respond(
                app,
                EdgeRequest {
                    method: &request.method,
                    query: &request.query,
                    body: &request.body,
                },
            )
            .await
        }
        Err(e) => e.into(),
    };
    write_response(out, &response)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn reads_method_query_and_exact_body() {
        let mut stdin = &b"<xml/>trailing"[..];
        let req = read_request(
            env(&[
                ("REQUEST_METHOD", "POST"),
                ("QUERY_STRING", "a=1"),
                ("CONTENT_LENGTH", "6"),
            ]),
            &mut stdin,
            1024,
        )
        .unwrap();
        assert_eq!(req.method, "POST");
        assert_eq!(req.query, "a=1");
        assert_eq!(req.body, b"<xml/>");
    }

    #[test]
    fn oversized_and_short_bodies_are_refused() {
        let mut stdin = &b"abc"[..];
        let err = read_request(
            env(&[("REQUEST_METHOD", "POST"), ("CONTENT_LENGTH", "5000")]),
            &mut stdin,
            1024,
        )
        .unwrap_err();
        assert_eq!(err.status().as_u16(), 413);
        let err = read_request(
            env(&[("REQUEST_METHOD", "POST"), ("CONTENT_LENGTH", "10")]),
            &mut stdin,
            1024,
        )
        .unwrap_err();
        assert_eq!(err.status().as_u16(), 400);
        let err = read_request(
            env(&[("REQUEST_METHOD", "POST"), ("CONTENT_LENGTH", "ten")]),
            &mut stdin,
            1024,
        )
        .unwrap_err();
        assert!(err.to_string().contains("CONTENT_LENGTH"));
    }

    #[test]
    fn the_account_is_chosen_by_path_info_or_the_whole_path() {
        let text = "[[accounts]]\nname = \"a\"\nappid = \"wx1234567890abcdef\"\ntoken = \"ta\"\n\n[[accounts]]\nname = \"b\"\nappid = \"wxfedcba0987654321\"\ntoken = \"tb\"\npath = \"/cgi-bin/wxoa/b\"\n";
        let config = Config::from_toml(text, std::path::Path::new("wxoa.toml")).unwrap();
        let pick = |pairs: &[(&str, &str)]| account_for_request(&config, env(pairs));
        assert_eq!(
            pick(&[("PATH_INFO", "/wechat/wx1234567890abcdef")]),
            Some(0)
        );
        assert_eq!(
            pick(&[("SCRIPT_NAME", "/cgi-bin/wxoa"), ("PATH_INFO", "/b")]),
            Some(1)
        );
        assert_eq!(pick(&[("PATH_INFO", "/wechat/wxfedcba0987654321")]), None);
        assert_eq!(pick(&[]), None);
        let single = Config::from_toml(
            "[account]\nappid = \"wx1234567890abcdef\"\ntoken = \"t\"\n",
            std::path::Path::new("wxoa.toml"),
        )
        .unwrap();
        assert_eq!(
            account_for_request(&single, env(&[("PATH_INFO", "/x")])),
            Some(0)
        );
        assert_eq!(not_found().status, 404);
    }

    #[test]
    fn response_has_cgi_headers() {
        let mut out = Vec::new();
        write_response(
            &mut out,
            &EdgeResponse {
                status: 403,
                content_type: "text/plain; charset=utf-8",
                body: "stale timestamp".to_owned(),
            },
        )
        .unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "Status: 403 Forbidden\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 15\r\n\r\nstale timestamp"
        );
    }
}
