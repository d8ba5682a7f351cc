//! `soak`: the mixed shopper load of `ha` (journeys, the anonymous visitor, picture uploads)
//! through the load balancer for --minutes, no fault, to see whether anything creeps up with
//! time. Each minute: every instance's resident memory and open files, the database
//! server's connections of the shop's user, and the minute's requests and p99 latency, a
//! row of the table as it comes. The verdict: each of them flat from the second minute to
//! the last (the first warms up): no minute above the second's by more than --tolerance
//! percent plus a small allowance (see [`Flatness`]).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::bail;
use sqlx::AnyPool;

use super::checks::Checks;
use super::instances;
use super::pictures::Uploader;
use super::state::{Phase, Shared};
use super::{load, setup};
use crate::shop;
use crate::stats::{Latencies, ms};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The load balancer's URL (loopback).
    #[arg(long)]
    pub base: String,
    /// The cluster script (its `instances` command names the instances and their PIDs).
    #[arg(long)]
    pub cluster: PathBuf,
    /// The database the app uses, to count its connections on the server.
    #[arg(long)]
    pub database_url: String,
    #[arg(long, default_value_t = 10)]
    pub minutes: u64,
    /// Requests per second, all shoppers together.
    #[arg(long, default_value_t = 40.0)]
    pub rate: f64,
    #[arg(long, default_value_t = 12)]
    pub users: usize,
    /// Requests per second of the anonymous visitor.
    #[arg(long, default_value_t = 8.0)]
    pub guest_rate: f64,
    /// A picture upload each this many milliseconds (0: none).
    #[arg(long, default_value_t = 2000)]
    pub upload_every_ms: u64,
    /// How far above the second minute's a later minute may be, in percent.
    #[arg(long, default_value_t = 25)]
    pub tolerance: u64,
}

/// One minute of the soak.
#[derive(Debug, Default, Clone)]
struct Minute {
    rss_kb: BTreeMap<String, u64>,
    open_files: BTreeMap<String, u64>,
    database_connections: Option<u64>,
    requests: usize,
    failed: usize,
    p99: Option<Duration>,
}

pub async fn run(args: Args) -> anyhow::Result<bool> {
    let base = args.base.trim_end_matches('/').to_owned();
    if args.users == 0 || args.rate <= 0.0 || args.minutes < 3 {
        bail!("--users and --rate must be positive, --minutes at least 3");
    }
    let shared = Arc::new(Shared::new());
    println!(
        "soak: {base}, {} shoppers, {} requests/s, an anonymous visitor at {}/s, {} minutes",
        args.users, args.rate, args.guest_rate, args.minutes
    );
    let setup = setup::prepare(&shared, &base, &args.database_url, args.users).await?;
    let guest = (
        shop::client(false, Duration::from_secs(10))?,
        args.guest_rate,
    );
    let uploader = Uploader::start(
        &shared,
        &base,
        format!("{}p", setup.prefix),
        Duration::from_millis(args.upload_every_ms),
    )
    .await?;
    shared.enter(Phase::Baseline);
    let load = load::start(
        &shared,
        &base,
        setup.shoppers,
        &setup.products,
        args.rate,
        guest,
    );
    let client = reqwest::Client::new();
    let mut minutes = Vec::new();
    let mut names = Vec::new();
    for minute in 1..=args.minutes {
        let from = shared.since_start();
        tokio::time::sleep(Duration::from_secs(60)).await;
        let mut row = sample(&client, &args, &setup.pool).await;
        let (requests, failed, mut latencies) =
            requests_between(&shared, from..shared.since_start());
        row.requests = requests;
        row.failed = failed;
        row.p99 = latencies.percentile(0.99);
        if minute == 1 {
            names = row.rss_kb.keys().cloned().collect();
            println!("{}", header(&names));
        }
        println!("{}", table_row(minute, &names, &row));
        minutes.push(row);
    }
    load.stop(&shared).await;
    uploader.finish().await;

    let mut checks = Checks::default();
    judge(&mut checks, &names, &minutes, args.tolerance);
    Ok(checks.finish())
}

async fn sample(client: &reqwest::Client, args: &Args, pool: &AnyPool) -> Minute {
    let mut row = Minute::default();
    for instance in instances::list(&args.cluster).await.unwrap_or_default() {
        let reading = instances::read(client, &instance).await;
        if let Some(kb) = reading.rss_kb {
            row.rss_kb.insert(instance.name.clone(), kb);
        }
        if let Some(n) = reading.open_files {
            row.open_files.insert(instance.name, n as u64);
        }
    }
    row.database_connections = database_connections(pool, &args.database_url).await;
    row
}

/// The shop user's connections as the database server counts them (this tool's own two
/// included).
async fn database_connections(pool: &AnyPool, url: &str) -> Option<u64> {
    let sql = if url.starts_with("postgres") {
        "SELECT COUNT(*) FROM pg_stat_activity WHERE usename = current_user"
    } else {
        "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE USER = SUBSTRING_INDEX(CURRENT_USER(), '@', 1)"
    };
    let (count,): (i64,) = sqlx::query_as(sql).fetch_one(pool).await.ok()?;
    u64::try_from(count).ok()
}

fn header(names: &[String]) -> String {
    let per_instance = |what: &str| {
        names
            .iter()
            .map(|n| format!("{:>8}", format!("{what} {n}")))
            .collect::<String>()
    };
    format!(
        "minute{}{} {:>8} {:>8} {:>7} {:>9}",
        per_instance("MB"),
        per_instance("fds"),
        "db conns",
        "requests",
        "failed",
        "p99"
    )
}

fn table_row(minute: u64, names: &[String], row: &Minute) -> String {
    let column = |values: &BTreeMap<String, u64>, scale: f64| {
        names
            .iter()
            .map(|n| {
                values.get(n).map_or(format!("{:>8}", "-"), |v| {
                    format!("{:>8.0}", *v as f64 / scale)
                })
            })
            .collect::<String>()
    };
    format!(
        "{minute:>6}{}{} {:>8} {:>8} {:>7} {:>9}",
        column(&row.rss_kb, 1024.0),
        column(&row.open_files, 1.0),
        row.database_connections
            .map_or("-".to_owned(), |n| n.to_string()),
        row.requests,
        row.failed,
        ms(row.p99)
    )
}

/// How much above the second minute a later one may be: `tolerance` percent, plus an
/// allowance for quantities small enough that a few units are most of them.
struct Flatness {
    tolerance: u64,
    allowance: u64,
}

impl Flatness {
    /// The minute (counted from 1) that broke it, with its value.
    fn broken(&self, series: &[Option<u64>]) -> Option<(usize, u64, u64)> {
        let first = series.get(1).copied().flatten()?;
        let ceiling = first + first * self.tolerance / 100 + self.allowance;
        series
            .iter()
            .enumerate()
            .skip(2)
            .find_map(|(i, v)| v.filter(|v| *v > ceiling).map(|v| (i + 1, v, ceiling)))
    }
}

fn judge(checks: &mut Checks, names: &[String], minutes: &[Minute], tolerance: u64) {
    let mut flat = |what: String, series: Vec<Option<u64>>, allowance: u64, unit: &str| {
        let rule = Flatness {
            tolerance,
            allowance,
        };
        let read = series.get(1).copied().flatten().is_some();
        let broken = rule.broken(&series);
        checks.check(
            &format!(
                "{what} flat from the second minute to the last (+{tolerance}% + {allowance} {unit})"
            ),
            read && broken.is_none(),
            match broken {
                Some((minute, value, ceiling)) => {
                    format!("minute {minute}: {value} {unit}, above {ceiling}")
                }
                None => "not read in the second minute".to_owned(),
            },
        );
    };
    for name in names {
        let rss = minutes
            .iter()
            .map(|m| m.rss_kb.get(name).map(|kb| kb / 1024))
            .collect();
        flat(format!("{name} resident memory"), rss, 8, "MB");
        let files = minutes
            .iter()
            .map(|m| m.open_files.get(name).copied())
            .collect();
        flat(format!("{name} open files"), files, 10, "files");
    }
    let connections = minutes.iter().map(|m| m.database_connections).collect();
    flat(
        "database connections".to_owned(),
        connections,
        4,
        "connections",
    );
    let p99 = minutes
        .iter()
        .map(|m| m.p99.map(|d| d.as_millis() as u64))
        .collect();
    flat("p99 latency".to_owned(), p99, 25, "ms");
    let failed: usize = minutes.iter().map(|m| m.failed).sum();
    checks.check("no request failed", failed == 0, format!("{failed} failed"));
}

/// The requests sent in `range` (since the run's start): how many, how many failed, and
/// their latencies.
fn requests_between(
    shared: &Shared,
    range: std::ops::Range<Duration>,
) -> (usize, usize, Latencies) {
    let mut latencies = Latencies::default();
    let (mut sent, mut failed) = (0, 0);
    for (ok, latency) in shared.sent_in(range) {
        sent += 1;
        failed += usize::from(!ok);
        latencies.push(latency);
    }
    (sent, failed, latencies)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flat_means_no_later_minute_above_the_second_by_more_than_allowed() {
        let rule = Flatness {
            tolerance: 25,
            allowance: 8,
        };
        // The first minute warms up: not counted.
        assert_eq!(rule.broken(&[Some(10), Some(40), Some(58), Some(50)]), None);
        assert_eq!(
            rule.broken(&[Some(10), Some(40), Some(50), Some(59)]),
            Some((4, 59, 58))
        );
        assert_eq!(
            rule.broken(&[Some(10), None, Some(99)]),
            None,
            "nothing to compare"
        );
        assert_eq!(rule.broken(&[Some(10), Some(40), None, Some(41)]), None);
    }
}
