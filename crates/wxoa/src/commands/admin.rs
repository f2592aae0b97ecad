//! `wxoa admin passwd`: set the console password, stored as an argon2 hash in
//! `admin.password_hash` of the config file (the rest of the file kept as it is).

use std::io::{BufRead as _, IsTerminal as _};
use std::process::ExitCode;

use anyhow::Context as _;
use toml_edit::{DocumentMut, Item, Table, value};
use wxoa_server::Config;
use wxoa_server::admin::auth::hash_password;
use wxoa_server::admin::rule_file::write_atomically;

use crate::cli::AdminPasswdArgs;

/// The shortest password accepted, in characters.
const MIN_PASSWORD_CHARS: usize = 8;

pub(crate) fn passwd(args: &AdminPasswdArgs) -> anyhow::Result<ExitCode> {
    let path = &args.config.config;
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the config file {}", path.display()))?;
    let password = if args.stdin {
        read_stdin_line()?
    } else {
        prompt_twice()?
    };
    check_password(&password)?;
    let hash =
        hash_password(&password).map_err(|e| anyhow::anyhow!("hashing the password: {e}"))?;
    let new_text = with_password_hash(&text, &hash)?;
    Config::from_text(&new_text, path).with_context(|| {
        format!(
            "{} would not load after the change; nothing was written",
            path.display()
        )
    })?;
    write_atomically(path, &new_text).with_context(|| format!("writing {}", path.display()))?;
    println!(
        "admin.password_hash written to {}; restart `wxoa serve` to use it (the console is at server.admin_listen)",
        path.display()
    );
    Ok(ExitCode::SUCCESS)
}

fn read_stdin_line() -> anyhow::Result<String> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("reading the password from stdin")?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}

fn prompt_twice() -> anyhow::Result<String> {
    if !std::io::stdin().is_terminal() {
        anyhow::bail!("stdin is not a terminal: pass --stdin to read the password from it");
    }
    let first =
        rpassword::prompt_password("New console password: ").context("reading the password")?;
    let second = rpassword::prompt_password("Again: ").context("reading the password")?;
    if first != second {
        anyhow::bail!("the two passwords differ; nothing was written");
    }
    Ok(first)
}

fn check_password(password: &str) -> anyhow::Result<()> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        anyhow::bail!(
            "the password is too short: at least {MIN_PASSWORD_CHARS} characters; nothing was written"
        );
    }
    Ok(())
}

/// `text` with `admin.password_hash = hash` (the `[admin]` table added when missing).
fn with_password_hash(text: &str, hash: &str) -> anyhow::Result<String> {
    let mut doc: DocumentMut = text.parse().context("the config file is not valid TOML")?;
    let admin = doc.entry("admin").or_insert_with(|| {
        let mut table = Table::new();
        table.decor_mut().set_prefix("\n");
        Item::Table(table)
    });
    let Some(admin) = admin.as_table_like_mut() else {
        anyhow::bail!("`admin` in the config file is not a table");
    };
    admin.insert("password_hash", value(hash));
    Ok(doc.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_goes_into_admin_keeping_the_rest() {
        let text = "# my bot\n[account]\nappid = \"wx1234567890abcdef\" # id\n\n[[rules]]\nname = \"a\"\nreply = { text = \"x\" }\n";
        let out = with_password_hash(text, "$argon2id$x").unwrap();
        assert!(out.starts_with(text), "{out}");
        assert!(
            out.ends_with("\n[admin]\npassword_hash = \"$argon2id$x\"\n"),
            "{out}"
        );
        let with_admin = "[admin]\n# keep me\nsession_hours = 2\npassword_hash = \"old\"\n";
        let out = with_password_hash(with_admin, "new").unwrap();
        assert_eq!(
            out,
            "[admin]\n# keep me\nsession_hours = 2\npassword_hash = \"new\"\n"
        );
        assert!(with_password_hash("admin = 1\n", "h").is_err());
    }

    #[test]
    fn short_passwords_are_refused() {
        assert!(check_password("short").is_err());
        assert!(check_password("long enough").is_ok());
    }
}
