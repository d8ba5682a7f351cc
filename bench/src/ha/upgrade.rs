//! The rolling upgrade under load (docs/upgrades.md): each instance in turn is drained by
//! the load balancer, stopped, and started again on its port with the next release's binary
//! (cluster.sh upgrade NAME --binary PATH), so that old and new instances serve side by side
//! for a while. The next release is the rehearsal build (cargo feature
//! next-release-rehearsal): its migration adds orders.placed_by_release and an index, and it
//! writes its release into every order it takes.
//!
//! While the instances are replaced, a prober asks the load balancer for /healthz every
//! PROBE_EVERY and notes which release answered (X-App-Version). The checks: no request of
//! the shoppers failed (requests()), both releases answered between the first replacement
//! and the last, only the next release answers afterwards, and the database has the new
//! column and index, with orders the next release took marked by it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sqlx::AnyPool;

use super::checks::Checks;
use super::cluster;
use super::state::Shared;
use crate::shop;

const PROBE_EVERY: Duration = Duration::from_millis(100);
/// Probes after the upgrade: enough for round robin to reach every instance a few times.
const PROBES_AFTER: usize = 12;
/// What the rehearsal's migration adds (deploy/rehearsal/).
const NEW_COLUMN: &str = "placed_by_release";
const NEW_INDEX: &str = "orders_placed_by_release";

/// What the rolling upgrade saw.
pub struct Rolled {
    /// Each cluster.sh command that failed.
    pub errors: Vec<String>,
    /// Releases (X-App-Version) that answered before the first instance was replaced.
    pub before: BTreeSet<String>,
    /// Releases that answered while old and new instances served together (from the first
    /// instance's return to the last one's drain), with how often.
    pub overlap: BTreeMap<String, usize>,
    /// Releases that answered once every instance was replaced.
    pub after: BTreeSet<String>,
    /// Probes without a 200.
    pub failed_probes: Vec<String>,
}

/// Replaces `instances` one after another with `next_binary`, pausing `overlap` after each.
pub async fn roll(
    shared: &Arc<Shared>,
    script: &Path,
    base: &str,
    next_binary: &Path,
    instances: &[&str],
    overlap: Duration,
) -> Rolled {
    let seen = Arc::new(Mutex::new(Seen::default()));
    let prober = tokio::spawn(probe(base.to_owned(), seen.clone()));
    let mut errors = Vec::new();
    let binary = next_binary.display().to_string();
    let before = probe_times(base, PROBES_AFTER).await;
    for (i, name) in instances.iter().enumerate() {
        if i == instances.len() - 1 {
            seen.lock().unwrap().window = Window::Closed;
        }
        if let Err(e) = cluster::run(shared, script, &["upgrade", name, "--binary", &binary]).await
        {
            errors.push(e);
        }
        if i == 0 {
            seen.lock().unwrap().window = Window::Open;
        }
        tokio::time::sleep(overlap).await;
    }
    prober.abort();
    let after = probe_times(base, PROBES_AFTER).await;
    let seen = std::mem::take(&mut *seen.lock().unwrap());
    let mut failed_probes = seen.failed;
    failed_probes.extend(before.failed);
    failed_probes.extend(after.failed);
    Rolled {
        errors,
        before: before.releases.into_keys().collect(),
        overlap: seen.releases,
        after: after.releases.into_keys().collect(),
        failed_probes,
    }
}

#[derive(Default, Clone, Copy, PartialEq, Eq)]
enum Window {
    /// Before the first instance is back on the next release.
    #[default]
    NotYet,
    Open,
    /// The last instance is being replaced: no old release is left to answer.
    Closed,
}

#[derive(Default)]
struct Seen {
    window: Window,
    releases: BTreeMap<String, usize>,
    failed: Vec<String>,
}

/// Asks /healthz every PROBE_EVERY until aborted; counts the releases seen in the window.
async fn probe(base: String, seen: Arc<Mutex<Seen>>) {
    let Ok(client) = shop::client(false, Duration::from_secs(5)) else {
        return;
    };
    let mut tick = tokio::time::interval(PROBE_EVERY);
    loop {
        tick.tick().await;
        let answer = ask(&client, &base).await;
        let mut seen = seen.lock().unwrap();
        match answer {
            Ok(release) if seen.window == Window::Open => {
                *seen.releases.entry(release).or_default() += 1;
            }
            Ok(_) => {}
            Err(e) => seen.failed.push(e),
        }
    }
}

/// `n` probes one after another.
async fn probe_times(base: &str, n: usize) -> Seen {
    let mut seen = Seen::default();
    let Ok(client) = shop::client(false, Duration::from_secs(5)) else {
        seen.failed.push("no HTTP client".into());
        return seen;
    };
    for _ in 0..n {
        match ask(&client, base).await {
            Ok(release) => *seen.releases.entry(release).or_default() += 1,
            Err(e) => seen.failed.push(e),
        }
    }
    seen
}

/// The release that answered /healthz, or what went wrong.
async fn ask(client: &reqwest::Client, base: &str) -> Result<String, String> {
    let response = client
        .get(format!("{base}/healthz"))
        .send()
        .await
        .map_err(|e| format!("GET /healthz: {e}"))?;
    if response.status() != 200 {
        return Err(format!("GET /healthz: {}", response.status()));
    }
    Ok(response
        .headers()
        .get("x-app-version")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("(no X-App-Version)")
        .to_owned())
}

/// The upgrade's own checks; the shoppers' requests in its phase are checked with the
/// others (checks::requests), the orders with the database's.
pub async fn check(checks: &mut Checks, rolled: &Rolled, pool: &AnyPool) {
    println!(
        "upgrade: before {:?}; side by side {:?}; after {:?}",
        rolled.before, rolled.overlap, rolled.after
    );
    checks.check(
        "upgrade: every cluster.sh upgrade succeeded",
        rolled.errors.is_empty(),
        rolled.errors.join("; "),
    );
    checks.check(
        "upgrade: every probe of the load balancer answered",
        rolled.failed_probes.is_empty(),
        rolled.failed_probes.join("; "),
    );
    let next: Vec<&String> = rolled.after.difference(&rolled.before).collect();
    let both = rolled.overlap.keys().any(|r| rolled.before.contains(r))
        && rolled.overlap.keys().any(|r| next.contains(&r));
    checks.check(
        "upgrade: the previous and the next release answered side by side",
        both,
        format!(
            "before {:?}, side by side {:?}, after {:?}",
            rolled.before, rolled.overlap, rolled.after
        ),
    );
    let next_release = match (next.as_slice(), rolled.after.len()) {
        ([release], 1) => Some(release.as_str()),
        _ => None,
    };
    checks.check(
        "upgrade: afterwards only the next release answers",
        next_release.is_some(),
        format!("before {:?}, after {:?}", rolled.before, rolled.after),
    );
    let schema = new_schema(pool, next_release.unwrap_or_default()).await;
    checks.check(
        "upgrade: the next release's column and index exist, and its orders carry its release",
        matches!(schema, Ok((true, marked)) if marked > 0),
        match schema {
            Ok((index, marked)) => format!("index {NEW_INDEX}: {index}; orders marked: {marked}"),
            Err(e) => format!("{e:#}"),
        },
    );
}

/// (whether the index exists, how many orders the next release marked): reading the column
/// fails if it does not exist.
async fn new_schema(pool: &AnyPool, release: &str) -> anyhow::Result<(bool, i64)> {
    let index_sql = match pool.connect_options().database_url.scheme() {
        "mysql" | "mariadb" => {
            "SELECT COUNT(*) FROM information_schema.statistics \
             WHERE table_schema = DATABASE() AND index_name = ?"
        }
        _ => "SELECT COUNT(*) FROM pg_indexes WHERE indexname = $1",
    };
    let (indexes,): (i64,) = sqlx::query_as(index_sql)
        .bind(NEW_INDEX)
        .fetch_one(pool)
        .await?;
    let marked_sql = match pool.connect_options().database_url.scheme() {
        "mysql" | "mariadb" => "SELECT COUNT(*) FROM orders WHERE placed_by_release = ?",
        _ => "SELECT COUNT(*) FROM orders WHERE placed_by_release = $1",
    };
    let (marked,): (i64,) = sqlx::query_as(marked_sql)
        .bind(release)
        .fetch_one(pool)
        .await
        .map_err(|e| anyhow::anyhow!("orders.{NEW_COLUMN}: {e}"))?;
    Ok((indexes > 0, marked))
}
