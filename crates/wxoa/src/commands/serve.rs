//! `wxoa serve`: run the callback server (every account of the config, or the one
//! `--account` names) until SIGTERM or Ctrl-C.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use wxoa_server::clock::SystemClock;
use wxoa_server::{Accounts, App};

use crate::cli::ServeArgs;
use crate::commands::load_config;

/// How long a stopping server waits for the message log to be written out.
const LOG_FLUSH_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

pub(crate) fn run(args: &ServeArgs) -> anyhow::Result<ExitCode> {
    let config = load_config(&args.config)?;
    let listen = args.listen.unwrap_or(config.server.listen);
    // HTTPS when server.tls_cert / server.tls_key are set; a bad file stops here, named.
    let tls = tls_certs(&config)?;
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    runtime.block_on(async move {
        for entry in &config.accounts {
            if !wxoa_server::config::token_has_platform_form(&entry.account.token) {
                tracing::warn!(
                    account = %entry.account.name,
                    "the account's token is not 3–32 letters or digits; the platform will refuse it in 服务器配置"
                );
            }
        }
        // Before connecting: a handle taken earlier (the message log's writer, the Redis
        // probe) would record nowhere.
        let metrics = wxoa_server::metrics::install_recorder()
            .map_err(|e| tracing::warn!(error = %e, "metrics disabled"))
            .ok();
        let clock: Arc<dyn wxoa_server::clock::Clock> = Arc::new(SystemClock);
        let connected = wxoa_server::backends::connect_accounts(
            &config,
            Arc::clone(&clock),
            wxoa_server::backends::DedupScope::Process,
        )
        .await
        .context("connecting [store] and [api]")?;
        let log_writer = connected.log_writer;
        let store = connected.store;
        let mut apps = Vec::with_capacity(connected.accounts.len());
        let mut first_api = None;
        for account in connected.accounts {
            if apps.is_empty() {
                first_api = account.api.clone();
            }
            apps.push(Arc::new(App::with_backends(
                &account.config,
                Arc::clone(&clock),
                account.backends,
            )));
        }
        let accounts = Accounts::new(apps).context("the config has no account")?;
        // With Redis, each account looks for slow work a stopped instance left behind.
        let _takeovers: Vec<_> = accounts.iter().filter_map(App::spawn_takeovers).collect();
        let app = Arc::clone(accounts.first());
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .with_context(|| format!("binding {listen}"))?;
        let local = listener.local_addr().context("reading the bound address")?;
        let admin_listen = config.server.admin_listen;
        let admin = tokio::net::TcpListener::bind(admin_listen)
            .await
            .with_context(|| format!("binding server.admin_listen {admin_listen}"))?;
        if let Some(handle) = metrics.clone() {
            // Histograms keep every sample until drained; drain them even when nobody scrapes,
            // ten times a second, so at most a tenth of a second's samples are held (at 100 000
            // pushes a second that is 80 kB, against 800 kB for a whole second).
            tokio::spawn(async move {
                let mut every = tokio::time::interval(std::time::Duration::from_millis(100));
                loop {
                    every.tick().await;
                    handle.run_upkeep();
                }
            });
        }
        // The owner's console joins the admin listener when [admin] turns it on; it shows the
        // first account.
        let log_stats = app.backends().message_log.clone().map(|log| {
            Arc::new(log) as Arc<dyn wxoa_server::admin::log_stats::LogWriterStats>
        });
        let console = wxoa_server::admin::Console::for_config(
            &config,
            Arc::clone(&app),
            store.clone(),
            first_api,
            log_stats,
        );
        if console.is_some() {
            tracing::info!(url = %format!("http://{admin_listen}/"), "console on");
        }
        let admin_router = wxoa_server::metrics::admin_listener(Arc::clone(&app), metrics, console)
            .into_make_service_with_connect_info::<std::net::SocketAddr>();
        tokio::spawn(async move {
            if let Err(e) = axum::serve(admin, admin_router).await {
                tracing::error!(error = %e, "admin listener failed");
            }
        });
        let _reloader = wxoa_server::reload::spawn_reloader(accounts.clone(), config.source.clone())
            .map_err(|e| tracing::warn!(error = %e, "rules will not reload on file change"))
            .ok();
        for app in accounts.iter() {
            let account = app.account();
            let mode = if account.crypt.is_some() {
                "明文/兼容/安全"
            } else {
                "明文 only (no encoding_aes_key)"
            };
            tracing::info!(
                account = %account.name,
                appid = %account.appid,
                path = %app.server().path,
                rules = app.rules().len(),
                modes = mode,
                "account"
            );
        }
        tracing::info!(
            listen = %local,
            accounts = config.accounts.len(),
            admin = %admin_listen,
            "wxoa serving"
        );
        match tls {
            Some(certs) => {
                tracing::info!(
                    cert = %certs.cert_path().display(),
                    key = %certs.key_path().display(),
                    "HTTPS; the certificate is reloaded when its files change"
                );
                let options = wxoa_server::tls::TlsOptions::default();
                wxoa_server::tls::serve_tls(listener, accounts, certs, options, shutdown_signal())
                    .await
            }
            None => wxoa_server::serve(listener, accounts, shutdown_signal()).await,
        }
        .context("serving")?;
        // Every request has been answered: write out what the message log still holds.
        if let Some(writer) = log_writer {
            if writer.shutdown(LOG_FLUSH_TIMEOUT).await {
                tracing::info!("message log written out");
            } else {
                tracing::error!(
                    timeout_secs = LOG_FLUSH_TIMEOUT.as_secs(),
                    "message log not written out in time; the rest of its queue is lost"
                );
            }
        }
        store.close().await;
        tracing::info!("stopped");
        Ok(ExitCode::SUCCESS)
    })
}

/// The certificate for HTTPS when `server.tls_cert` / `server.tls_key` are set.
fn tls_certs(
    config: &wxoa_server::Config,
) -> anyhow::Result<Option<Arc<wxoa_server::tls::CertStore>>> {
    let (Some(cert), Some(key)) = (&config.server.tls_cert, &config.server.tls_key) else {
        return Ok(None);
    };
    let certs = wxoa_server::tls::CertStore::load(cert, key)
        .context("loading server.tls_cert / server.tls_key")?;
    Ok(Some(Arc::new(certs)))
}

/// Resolves on Ctrl-C or SIGTERM.
pub(crate) async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down; finishing requests in flight");
}
