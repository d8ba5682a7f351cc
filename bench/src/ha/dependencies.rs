//! The dependencies misbehaving under load, while every instance runs:
//!
//!   s3 outage  the object store stopped for --storage-outage-secs (cluster.sh s3-stop), then
//!              started again (s3-start): pages keep rendering, picture uploads are refused
//!              fast with 503 and Retry-After, and go through once it is back
//!   slow db    every database round trip --slow-database-ms slower, through a delay proxy
//!              on the database address (cluster.sh database-through), --slow-database-secs
//!   slower db  the same with --slower-database-ms: past most calls' time bound
//!   db back    the address straight to the primary again (database-direct); lasts until
//!              the service has recovered, as the failover does
//!
//! While the database is slow, anonymous pages and the catalog API answer (from the
//! snapshot when need be), a request that fails is a 503 that came within the call timeout
//! and a margin, and nothing queues: each instance's requests in flight, pool connections
//! and resident memory, sampled every second, stay under a ceiling.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use tokio::task::JoinHandle;

use super::checks::{self, Checks};
use super::delay_proxy::DelayProxy;
use super::faults::Driver;
use super::instances::{self, Reading};
use super::pictures::Uploads;
use super::state::{Kind, Phase, Record, Shared};
use crate::stats::ms;

#[derive(Debug, Clone, clap::Args)]
pub struct Settings {
    /// How long the object store is away.
    #[arg(long, default_value_t = 10)]
    pub storage_outage_secs: u64,
    /// How long each slow-database phase lasts.
    #[arg(long, default_value_t = 10)]
    pub slow_database_secs: u64,
    /// What the slow database adds to every round trip, in milliseconds.
    #[arg(long, default_value_t = 200)]
    pub slow_database_ms: u64,
    /// What the slower database adds to every round trip, in milliseconds.
    #[arg(long, default_value_t = 2000)]
    pub slower_database_ms: u64,
    /// The instances' DATABASE_CALL_TIMEOUT_MS: no request may wait much longer.
    #[arg(long, default_value_t = 5000)]
    pub database_call_timeout_ms: u64,
    /// How much longer than the call timeout a request may take, and how long a refused
    /// upload, in milliseconds.
    #[arg(long, default_value_t = 2000)]
    pub answer_margin_ms: u64,
    /// How much an instance's resident memory may grow while the database is slow, in MB.
    #[arg(long, default_value_t = 64)]
    pub memory_growth_mb: u64,
    /// A picture upload each this many milliseconds (0: none).
    #[arg(long, default_value_t = 1000)]
    pub upload_every_ms: u64,
}

impl Settings {
    pub fn upload_every(&self) -> Duration {
        Duration::from_millis(self.upload_every_ms)
    }
}

/// The phases of this module hold themselves (the others last --phase-secs).
pub fn holds_itself(phase: Phase) -> bool {
    matches!(
        phase,
        Phase::StorageOutage | Phase::SlowDatabase | Phase::SlowerDatabase | Phase::DatabaseBack
    )
}

impl Driver {
    /// The object store away for the phase, then back.
    pub async fn storage_outage(&mut self, settings: &Settings, phase_start: Instant) {
        self.cluster(&["s3-stop"]).await;
        self.hold_for(
            phase_start,
            Duration::from_secs(settings.storage_outage_secs),
        )
        .await;
        self.cluster(&["s3-start"]).await;
    }

    /// Every database round trip `delay` slower for the phase: the first time, a delay
    /// proxy is started in front of the primary and the database address led through it.
    pub async fn slow_database(
        &mut self,
        proxy: &mut Option<DelayProxy>,
        settings: &Settings,
        delay_ms: u64,
        phase_start: Instant,
    ) {
        if proxy.is_none() {
            match self.start_proxy().await {
                Ok(started) => *proxy = Some(started),
                Err(e) => self.faults.errors.push(e),
            }
        }
        if let Some(proxy) = proxy {
            proxy.set_delay(Duration::from_millis(delay_ms));
            self.shared
                .log(&format!("every database round trip {delay_ms} ms slower"));
        }
        self.hold_for(
            phase_start,
            Duration::from_secs(settings.slow_database_secs),
        )
        .await;
    }

    async fn start_proxy(&mut self) -> Result<DelayProxy, String> {
        let primary = super::cluster::output(&self.script, &["primary-address"]).await?;
        let primary: SocketAddr = primary
            .parse()
            .map_err(|e| format!("primary-address {primary:?}: {e}"))?;
        let proxy = DelayProxy::start(primary)
            .await
            .map_err(|e| format!("delay proxy: {e}"))?;
        let through = proxy.address().to_string();
        super::cluster::run(&self.shared, &self.script, &["database-through", &through]).await?;
        Ok(proxy)
    }

    /// The database address straight to the primary again; the phase lasts until the
    /// service has recovered (see [`Driver::until_recovered`]).
    pub async fn database_back(
        &mut self,
        proxy: &mut Option<DelayProxy>,
        phase_start: Instant,
        cap: Duration,
    ) {
        if let Some(proxy) = proxy {
            proxy.set_delay(Duration::ZERO);
        }
        self.until_recovered(&["database-direct"], phase_start, cap)
            .await;
        *proxy = None;
    }
}

/// One reading of one instance, in the phase it was taken in.
pub struct Sample {
    pub phase: Phase,
    pub instance: String,
    pub reading: Reading,
}

/// Reads every instance each second until stopped.
pub struct Sampler {
    stop: Arc<AtomicBool>,
    task: JoinHandle<Vec<Sample>>,
}

impl Sampler {
    pub fn start(shared: &Arc<Shared>, script: PathBuf, every: Duration) -> Sampler {
        let stop = Arc::new(AtomicBool::new(false));
        let (shared, stopped) = (shared.clone(), stop.clone());
        let task = tokio::spawn(async move {
            let client = reqwest::Client::new();
            let mut samples = Vec::new();
            let mut ticker = tokio::time::interval(every);
            while !stopped.load(Ordering::SeqCst) {
                ticker.tick().await;
                let phase = shared.phase();
                for instance in instances::list(&script).await.unwrap_or_default() {
                    let reading = instances::read(&client, &instance).await;
                    samples.push(Sample {
                        phase,
                        instance: instance.name,
                        reading,
                    });
                }
            }
            samples
        });
        Sampler { stop, task }
    }

    pub async fn finish(self) -> Vec<Sample> {
        self.stop.store(true, Ordering::SeqCst);
        self.task.await.unwrap_or_default()
    }
}

/// The checks of the dependency phases. `clients`: how many requests the load can have out
/// at once (each shopper, the visitor and the uploader wait for one answer before the next
/// request), the ceiling of an instance's requests in flight.
pub fn check(
    checks: &mut Checks,
    settings: &Settings,
    records: &[Record],
    uploads: &Uploads,
    samples: &[Sample],
    clients: usize,
) {
    storage_outage(checks, settings, records, uploads);
    let bound =
        Duration::from_millis(settings.database_call_timeout_ms + settings.answer_margin_ms);
    for phase in [Phase::SlowDatabase, Phase::SlowerDatabase] {
        checks::guests_answered(checks, phase, records);
        fast_failures(checks, phase, records, bound);
        flat(
            checks,
            phase,
            samples,
            clients,
            settings.memory_growth_mb * 1024,
        );
    }
}

fn in_phase(records: &[Record], phase: Phase) -> impl Iterator<Item = &Record> {
    records.iter().filter(move |r| r.phase == phase)
}

fn storage_outage(checks: &mut Checks, settings: &Settings, records: &[Record], uploads: &Uploads) {
    let phase = Phase::StorageOutage;
    let failed_gets = in_phase(records, phase)
        .filter(|r| r.kind.is_get() && !r.ok)
        .count();
    checks.check(
        "s3 outage: every page and catalog API request answered",
        failed_gets == 0,
        format!("{failed_gets} failed"),
    );
    let failed_others = in_phase(records, phase)
        .filter(|r| !r.kind.is_get() && r.kind != Kind::Upload && !r.ok)
        .count();
    checks.check(
        "s3 outage: no request but picture uploads failed",
        failed_others == 0,
        format!("{failed_others} carts or checkouts failed"),
    );
    let refused: Vec<_> = uploads
        .refusals
        .iter()
        .filter(|r| r.phase == phase)
        .collect();
    let fast_enough = Duration::from_millis(settings.answer_margin_ms);
    let wrong = refused
        .iter()
        .filter(|r| r.status != Some(503) || !r.retry_after || r.latency > fast_enough)
        .count();
    let slowest = refused.iter().map(|r| r.latency).max();
    println!(
        "s3 outage: {} uploads refused, the slowest refusal after {}",
        refused.len(),
        ms(slowest)
    );
    checks.check(
        &format!(
            "s3 outage: uploads refused with 503 and Retry-After within {} ms",
            settings.answer_margin_ms
        ),
        !refused.is_empty() && wrong == 0,
        format!(
            "{} refused, {wrong} of them not a 503 with Retry-After in time (slowest {})",
            refused.len(),
            ms(slowest)
        ),
    );
    let accepted_later = uploads
        .accepted_after_refusal
        .iter()
        .filter(|p| **p == phase)
        .count();
    let never: Vec<&str> = uploads
        .never_accepted
        .iter()
        .filter(|(p, _)| *p == phase)
        .map(|(_, last)| last.as_str())
        .collect();
    checks.check(
        "s3 outage: every refused upload went through once storage was back",
        accepted_later > 0 && never.is_empty(),
        format!(
            "{accepted_later} accepted after a refusal; never accepted: {}",
            never.join("; ")
        ),
    );
}

/// Nothing waits on the slow database: what fails is a 503, and nothing takes much longer
/// than a call may.
fn fast_failures(checks: &mut Checks, phase: Phase, records: &[Record], bound: Duration) {
    let not_503 = in_phase(records, phase)
        .filter(|r| !r.ok && r.status.is_none_or(|s| s >= 500 && s != 503))
        .count();
    let slowest = in_phase(records, phase).map(|r| r.latency).max();
    let failed = in_phase(records, phase).filter(|r| !r.ok).count();
    println!(
        "{}: {failed} requests failed, {not_503} of them not with a 503; the slowest answer after {}",
        phase.name(),
        ms(slowest)
    );
    checks.check(
        &format!(
            "{}: failures are 503s, every answer within {} ms",
            phase.name(),
            bound.as_millis()
        ),
        not_503 == 0 && slowest.is_none_or(|s| s <= bound),
        format!(
            "{not_503} failed otherwise than with a 503; slowest answer {}",
            ms(slowest)
        ),
    );
}

/// Per instance over the phase: requests in flight at most `clients`, pool connections at
/// most the pool's size, resident memory grown by at most `growth_kb` from the phase's first
/// reading.
fn flat(checks: &mut Checks, phase: Phase, samples: &[Sample], clients: usize, growth_kb: u64) {
    let mut names: Vec<&str> = samples
        .iter()
        .filter(|s| s.phase == phase)
        .map(|s| s.instance.as_str())
        .collect();
    names.dedup();
    names.sort_unstable();
    names.dedup();
    let mut problems = Vec::new();
    let mut read = 0;
    for name in names {
        let of_instance: Vec<&Reading> = samples
            .iter()
            .filter(|s| s.phase == phase && s.instance == name)
            .map(|s| &s.reading)
            .collect();
        let max = |f: fn(&Reading) -> Option<f64>| {
            of_instance.iter().filter_map(|r| f(r)).reduce(f64::max)
        };
        let in_flight = max(|r| r.in_flight);
        let pool_open = max(|r| r.pool_open);
        let pool_size = max(|r| r.pool_size);
        let rss: Vec<u64> = of_instance.iter().filter_map(|r| r.rss_kb).collect();
        let (first_rss, max_rss) = (rss.first().copied(), rss.iter().max().copied());
        println!(
            "{:<9} {name}: {} readings, requests in flight at most {}, pool connections at most {} of {}, memory {} → at most {} MB",
            phase.name(),
            of_instance.len(),
            shown(in_flight),
            shown(pool_open),
            shown(pool_size),
            first_rss.map_or("-".into(), |kb| format!("{:.0}", kb as f64 / 1024.0)),
            max_rss.map_or("-".into(), |kb| format!("{:.0}", kb as f64 / 1024.0)),
        );
        if in_flight.is_some() && first_rss.is_some() {
            read += 1;
        }
        if in_flight.is_some_and(|n| n > clients as f64) {
            problems.push(format!("{name}: {} requests in flight", shown(in_flight)));
        }
        if let (Some(open), Some(size)) = (pool_open, pool_size)
            && open > size
        {
            problems.push(format!("{name}: {open} pool connections of {size}"));
        }
        if let (Some(first), Some(max)) = (first_rss, max_rss)
            && max > first + growth_kb
        {
            problems.push(format!("{name}: memory grew by {} kB", max - first));
        }
    }
    checks.check(
        &format!(
            "{}: requests in flight (at most {clients}), pool connections and memory (+{} MB at most) stay bounded on every instance",
            phase.name(),
            growth_kb / 1024
        ),
        read > 0 && problems.is_empty(),
        if read == 0 {
            "no instance could be read".to_owned()
        } else {
            problems.join("; ")
        },
    );
}

fn shown(value: Option<f64>) -> String {
    value.map_or("-".into(), |v| format!("{v:.0}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(phase: Phase, kind: Kind, status: u16, latency_ms: u64) -> Record {
        Record {
            phase,
            kind,
            sent_at: Duration::ZERO,
            latency: Duration::from_millis(latency_ms),
            ok: status < 300,
            status: Some(status),
            stale: false,
            served_by: None,
            detail: String::new(),
        }
    }

    fn sample(phase: Phase, in_flight: f64, rss_mb: u64) -> Sample {
        Sample {
            phase,
            instance: "b1".into(),
            reading: Reading {
                in_flight: Some(in_flight),
                pool_open: Some(4.0),
                pool_size: Some(16.0),
                rss_kb: Some(rss_mb * 1024),
                open_files: Some(40),
            },
        }
    }

    fn failing(checks: &Checks) -> Vec<String> {
        checks.failing().map(str::to_owned).collect()
    }

    #[test]
    fn a_slow_database_may_cost_503s_in_time_but_nothing_else() {
        let bound = Duration::from_millis(7000);
        let mut checks = Checks::default();
        let fine = [
            record(Phase::SlowDatabase, Kind::Checkout, 503, 5200),
            record(Phase::SlowDatabase, Kind::Home, 200, 900),
            record(Phase::SlowerDatabase, Kind::Checkout, 201, 6900),
        ];
        fast_failures(&mut checks, Phase::SlowDatabase, &fine, bound);
        fast_failures(&mut checks, Phase::SlowerDatabase, &fine, bound);
        assert!(failing(&checks).is_empty());
        let bad = [
            record(Phase::SlowDatabase, Kind::Cart, 500, 100),
            record(Phase::SlowerDatabase, Kind::Checkout, 503, 9000),
        ];
        fast_failures(&mut checks, Phase::SlowDatabase, &bad, bound);
        fast_failures(&mut checks, Phase::SlowerDatabase, &bad, bound);
        assert_eq!(checks.counts(), (2, 2));
    }

    #[test]
    fn growing_queues_or_memory_fail_the_phase() {
        let mut checks = Checks::default();
        let steady = [
            sample(Phase::SlowDatabase, 3.0, 40),
            sample(Phase::SlowDatabase, 9.0, 60),
        ];
        flat(&mut checks, Phase::SlowDatabase, &steady, 14, 64 * 1024);
        assert!(failing(&checks).is_empty());
        let queueing = [
            sample(Phase::SlowerDatabase, 3.0, 40),
            sample(Phase::SlowerDatabase, 15.0, 40),
        ];
        flat(&mut checks, Phase::SlowerDatabase, &queueing, 14, 64 * 1024);
        let swelling = [
            sample(Phase::SlowDatabase, 3.0, 40),
            sample(Phase::SlowDatabase, 3.0, 105),
        ];
        flat(&mut checks, Phase::SlowDatabase, &swelling, 14, 64 * 1024);
        flat(&mut checks, Phase::DatabaseBack, &[], 14, 64 * 1024);
        assert_eq!(checks.counts(), (1, 3), "{:?}", failing(&checks));
    }
}
