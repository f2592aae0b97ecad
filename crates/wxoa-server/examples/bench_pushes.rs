//! Writes N unique signed pushes (encrypted for 安全 mode), one request a line, for the wrk load script.
//!
//! Each line is `PATH?QUERY<TAB>BODY`: the request target with `signature`, `timestamp`,
//! `nonce` (and for 安全 mode `encrypt_type=aes&msg_signature=…`), then the XML body, which
//! never contains a tab or newline. Every push is a text message with its own MsgId, so the
//! server's dedup table sees each one once. Timestamps are "now" at generation time, inside the
//! default 300 s skew window if the run starts soon after. The account (token, EncodingAESKey,
//! AppID) and the callback path come from the wxoa config the server runs with.
//!
//! ```text
//! cargo run --release -p wxoa-server --example bench_pushes -- \
//!     --config bench/wxoa-bench.toml --mode safe --count 1000000 --out bench/out/safe.txt
//! ```

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use wxoa_server::Config;

#[path = "../benches/common/pushes.rs"]
mod pushes;

/// How the pushes are sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// 明文: plaintext XML, `signature` only.
    Plain,
    /// 安全: only the `<Encrypt>` envelope, plus `msg_signature`.
    Safe,
}

/// The command line.
#[derive(Debug)]
struct Args {
    config: PathBuf,
    mode: Mode,
    count: u64,
    first_id: u64,
    out: PathBuf,
    content: String,
}

fn parse_args() -> Result<Args, String> {
    let mut config = None;
    let mut mode = Mode::Plain;
    let mut count = None;
    let mut first_id = 1_000_000_000_000_000_000_u64;
    let mut out = None;
    let mut content = "帮助".to_owned();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--config" => config = Some(PathBuf::from(value()?)),
            "--mode" => {
                mode = match value()?.as_str() {
                    "plain" => Mode::Plain,
                    "safe" => Mode::Safe,
                    other => return Err(format!("--mode must be plain or safe, got {other:?}")),
                }
            }
            "--count" => {
                let v = value()?;
                count = Some(
                    v.parse()
                        .map_err(|e| format!("--count {v:?} is not a number: {e}"))?,
                );
            }
            "--first-id" => {
                let v = value()?;
                first_id = v
                    .parse()
                    .map_err(|e| format!("--first-id {v:?} is not a number: {e}"))?;
            }
            "--out" => out = Some(PathBuf::from(value()?)),
            "--content" => content = value()?,
            other => {
                return Err(format!(
                    "unknown argument {other:?}; use --config, --mode, --count, --first-id, --out, --content"
                ));
            }
        }
    }
    if content.contains(['\t', '\n', '\r']) || content.contains("]]>") {
        return Err("--content must not contain a tab, a newline or \"]]>\"".to_owned());
    }
    Ok(Args {
        config: config.ok_or("--config FILE is required (the config the server runs with)")?,
        mode,
        count: count.ok_or("--count N is required")?,
        first_id,
        out: out.ok_or("--out FILE is required")?,
        content,
    })
}

fn run(args: &Args) -> Result<(), String> {
    let config = Config::load(&args.config).map_err(|e| e.to_string())?;
    let account = &config.account;
    let crypt = match (args.mode, &account.crypt) {
        (Mode::Safe, None) => {
            return Err(format!(
                "--mode safe needs account.encoding_aes_key in {}",
                args.config.display()
            ));
        }
        (Mode::Safe, Some(crypt)) => Some(crypt),
        (Mode::Plain, _) => None,
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_err(|e| format!("system clock before 1970: {e}"))?
        .as_secs();
    let timestamp = now.to_string();
    let path = &config.server.path;
    let file = File::create(&args.out)
        .map_err(|e| format!("cannot create {}: {e}", args.out.display()))?;
    let mut out = BufWriter::with_capacity(1 << 20, file);
    for i in 0..args.count {
        let (query, body) = pushes::push(
            account,
            crypt.is_some(),
            args.first_id + i,
            i,
            &timestamp,
            &args.content,
        );
        writeln!(out, "{path}?{query}\t{body}")
            .map_err(|e| format!("writing {}: {e}", args.out.display()))?;
    }
    out.flush()
        .map_err(|e| format!("writing {}: {e}", args.out.display()))?;
    Ok(())
}

fn main() -> ExitCode {
    let result = parse_args().and_then(|args| run(&args));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench_pushes: {e}");
            ExitCode::FAILURE
        }
    }
}
