//! Asking before an irreversible API call: `[y/N]` on a terminal, refused without `--yes` otherwise.

use std::io::{BufRead as _, IsTerminal as _, Write as _};

use anyhow::Context as _;

/// Ask `question` (unless `yes`); `Ok(false)` when the user declines.
///
/// # Errors
/// When stdin is not a terminal and `yes` is not set (`action` names what was refused), or
/// the answer cannot be read.
pub(crate) fn confirm(yes: bool, action: &str, question: &str) -> anyhow::Result<bool> {
    if yes {
        return Ok(true);
    }
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        anyhow::bail!(
            "refusing to {action} without confirmation (stdin is not a terminal); pass --yes"
        );
    }
    eprint!("{question} [y/N] ");
    std::io::stderr().flush().ok();
    let mut answer = String::new();
    stdin
        .lock()
        .read_line(&mut answer)
        .context("reading the confirmation")?;
    Ok(matches!(answer.trim().to_lowercase().as_str(), "y" | "yes"))
}
