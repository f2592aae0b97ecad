//! `wxoa cgi`: answer the one request of a CGI invocation (for the account whose callback
//! path the request's PATH_INFO names, when the config has several). Errors never become a web server's
//! 500 page: a config problem is logged to stderr (the web server's error log) and answered
//! with a plain 500 text naming the problem's kind.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use wxoa_server::clock::SystemClock;
use wxoa_server::service::EdgeResponse;
use wxoa_server::{App, Config};

/// The config file: `--config`, else `$WXOA_CONFIG`, else `wxoa.toml` beside the binary.
fn config_path(explicit: Option<PathBuf>) -> PathBuf {
    explicit
        .or_else(|| std::env::var_os("WXOA_CONFIG").map(PathBuf::from))
        .or_else(|| {
            std::env::current_exe()
                .ok()
                .and_then(|exe| exe.parent().map(|dir| dir.join("wxoa.toml")))
        })
        .unwrap_or_else(|| PathBuf::from("wxoa.toml"))
}

/// How long the process waits, after answering, for its message log row to be written.
const LOG_FLUSH_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

pub(crate) fn run_from_environment(config: Option<PathBuf>) -> ExitCode {
    let path = config_path(config);
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let config = match Config::load(&path) {
        Ok(config) => config,
        Err(e) => {
            tracing::error!(config = %path.display(), error = %e, "wxoa cgi: config does not load");
            let response = EdgeResponse {
                status: 500,
                content_type: "text/plain; charset=utf-8",
                body: "wxoa: configuration error (see the web server's error log)".to_owned(),
            };
            let _ = wxoa_server::cgi::write_response(&mut out, &response);
            return ExitCode::FAILURE;
        }
    };
    // With [[accounts]], the request's path (PATH_INFO, SCRIPT_NAME) chooses the account.
    let Some(index) =
        wxoa_server::cgi::account_for_request(&config, |name| std::env::var(name).ok())
    else {
        tracing::warn!(
            path_info = std::env::var("PATH_INFO").unwrap_or_default(),
            "wxoa cgi: no account's callback path matches this request"
        );
        let _ = wxoa_server::cgi::write_response(&mut out, &wxoa_server::cgi::not_found());
        return ExitCode::SUCCESS;
    };
    let config = config.for_account(index);
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!(error = %e, "wxoa cgi: cannot start the runtime");
            return ExitCode::FAILURE;
        }
    };
    let stdin = std::io::stdin();
    let mut input = stdin.lock();
    let result = runtime.block_on(async {
        let clock: Arc<dyn wxoa_server::clock::Clock> = Arc::new(SystemClock);
        // Every request is a new process: dedup, sessions and parked results go through the
        // store so that concurrent CGI processes cooperate.
        let connected = match wxoa_server::backends::connect(
            &config,
            Arc::clone(&clock),
            wxoa_server::backends::DedupScope::Store,
        )
        .await
        {
            Ok(connected) => connected,
            Err(e) => {
                tracing::error!(error = %e, "wxoa cgi: store unavailable; answering without it");
                let app = Arc::new(App::new(&config, clock));
                return wxoa_server::cgi::serve_one(
                    &app,
                    |name| std::env::var(name).ok(),
                    &mut input,
                    &mut out,
                )
                .await;
            }
        };
        let store = connected.store.clone();
        let log_writer = connected.log_writer;
        let app = Arc::new(App::with_backends(&config, clock, connected.backends));
        let result = wxoa_server::cgi::serve_one(
            &app,
            |name| std::env::var(name).ok(),
            &mut input,
            &mut out,
        )
        .await;
        // The response is out: write the push's log row before the process ends.
        if let Some(writer) = log_writer
            && !writer.shutdown(LOG_FLUSH_TIMEOUT).await
        {
            tracing::error!("wxoa cgi: the message log row was not written in time");
        }
        store.close().await;
        result
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "wxoa cgi: cannot write the response");
            ExitCode::FAILURE
        }
    }
}
