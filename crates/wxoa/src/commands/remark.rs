//! `wxoa remark OPENID TEXT`: a follower's remark (备注名).

use std::process::ExitCode;

use anyhow::Context as _;

use crate::cli::RemarkArgs;
use crate::commands::api::with_client;
use crate::commands::load_account_config;

pub(crate) fn run(args: &RemarkArgs) -> anyhow::Result<ExitCode> {
    let config = load_account_config(&args.config)?;
    with_client(&config, async |client| {
        client
            .user_update_remark(&args.openid, &args.remark)
            .await
            .with_context(|| {
                format!(
                    "setting the remark of {} (user/info/updateremark)",
                    args.openid
                )
            })?;
        println!("remark of {} set to {:?}", args.openid, args.remark);
        Ok(ExitCode::SUCCESS)
    })
}
