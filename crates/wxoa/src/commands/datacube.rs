//! `wxoa datacube REPORT --from --to [--out FILE]`: statistics (数据统计) as CSV, a long range fetched in the spans the report allows.

use std::process::ExitCode;

use anyhow::{Context as _, bail};
use wxoa_api::beijing_date;
use wxoa_api::datacube::{Report, Row, parse_date};

use crate::cli::DatacubeArgs;
use crate::commands::api::with_client;
use crate::commands::load_account_config;

/// The `YYYY-MM-DD` of a day number.
fn date_of(day: i64) -> String {
    beijing_date(day * 86_400)
}

/// The report named on the command line.
pub(crate) fn report(name: &str) -> anyhow::Result<Report> {
    Report::ALL
        .into_iter()
        .find(|r| r.name() == name)
        .with_context(|| {
            let names: Vec<&str> = Report::ALL.iter().map(|r| r.name()).collect();
            format!("unknown report {name:?}; one of {}", names.join(", "))
        })
}

/// `[from, to]` cut into the spans the report allows, as date pairs.
pub(crate) fn spans(report: Report, from: i64, to: i64) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut start = from;
    while start <= to {
        let end = (start + report.max_days() - 1).min(to);
        out.push((date_of(start), date_of(end)));
        start = end + 1;
    }
    out
}

/// A cell: strings as they are, other values as JSON.
fn cell(v: Option<&serde_json::Value>) -> String {
    match v {
        None | Some(serde_json::Value::Null) => String::new(),
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

/// The CSV: the report's documented columns, then any other field seen (sorted).
pub(crate) fn to_csv(report: Report, rows: &[Row]) -> anyhow::Result<Vec<u8>> {
    let mut columns: Vec<String> = report.columns().iter().map(|c| (*c).to_owned()).collect();
    let mut extra: Vec<String> = rows
        .iter()
        .flat_map(|r| r.keys())
        .filter(|k| !columns.contains(k))
        .cloned()
        .collect();
    extra.sort();
    extra.dedup();
    columns.extend(extra);
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(&columns).context("writing the CSV header")?;
    for r in rows {
        w.write_record(columns.iter().map(|c| cell(r.get(c))))
            .context("writing a CSV row")?;
    }
    w.into_inner().context("finishing the CSV")
}

pub(crate) fn run(args: &DatacubeArgs) -> anyhow::Result<ExitCode> {
    let report = report(&args.report)?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(0));
    let yesterday = parse_date(&beijing_date(now)).map_err(anyhow::Error::msg)? - 1;
    let to = match &args.to {
        Some(d) => parse_date(d).map_err(anyhow::Error::msg)?,
        None => yesterday,
    };
    let from = match &args.from {
        Some(d) => parse_date(d).map_err(anyhow::Error::msg)?,
        None => to - report.max_days() + 1,
    };
    if from > to {
        bail!("--from {} is after --to {}", date_of(from), date_of(to));
    }
    if to > yesterday {
        bail!(
            "--to {} is not over yet; statistics end yesterday ({})",
            date_of(to),
            date_of(yesterday)
        );
    }
    let config = load_account_config(&args.config)?;
    with_client(&config, async |client| {
        let mut rows = Vec::new();
        for (begin, end) in spans(report, from, to) {
            let part = client
                .datacube(report, &begin, &end)
                .await
                .with_context(|| {
                    format!(
                        "reading {} for {begin}..{end} ({})",
                        report.name(),
                        report.path()
                    )
                })?;
            rows.extend(part);
        }
        let csv = to_csv(report, &rows)?;
        match &args.out {
            Some(path) => {
                crate::commands::material::write_atomically(path, &csv)?;
                eprintln!("wrote {} rows to {}", rows.len(), path.display());
            }
            None => {
                use std::io::Write as _;
                std::io::stdout()
                    .write_all(&csv)
                    .context("writing to standard output")?;
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_ranges_are_cut_into_allowed_spans() {
        let from = parse_date("2024-01-01").unwrap();
        let to = parse_date("2024-01-10").unwrap();
        assert_eq!(
            spans(Report::UserSummary, from, to),
            vec![
                ("2024-01-01".to_owned(), "2024-01-07".to_owned()),
                ("2024-01-08".to_owned(), "2024-01-10".to_owned())
            ]
        );
        assert_eq!(spans(Report::ArticleSummary, from, from + 1).len(), 2);
    }

    #[test]
    fn csv_has_documented_columns_then_extras() {
        let row: Row =
            serde_json::from_str(r#"{"ref_date":"2024-01-01","cumulate_user":5,"new_field":"x"}"#)
                .unwrap();
        let csv = String::from_utf8(to_csv(Report::UserCumulate, &[row]).unwrap()).unwrap();
        assert_eq!(csv, "ref_date,cumulate_user,new_field\n2024-01-01,5,x\n");
        assert!(report("nope").is_err());
        assert_eq!(report("user-read").unwrap(), Report::UserRead);
    }
}
