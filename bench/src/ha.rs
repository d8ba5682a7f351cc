//! `ha`: the shopper journey at a steady rate through the load balancer while instances are
//! killed, drained and restarted and the database fails over; then the database is checked.
//!
//! Phases (each --phase-secs long unless said otherwise):
//!   baseline  no fault
//!   kill      one instance gets SIGKILL                      (cluster.sh kill a1)
//!   drain     another gets SIGTERM and drains, then exits    (cluster.sh stop b1)
//!   restart   both start again                               (cluster.sh start a1; start b1)
//!   failover  primary stopped, standby promoted, address re-pointed (cluster.sh failover);
//!             lasts until the service has been healthy for a while (at most the recovery
//!             target + 10 s)
//!   after     no fault
//!
//! Each virtual shopper registers and signs in, then loops: GET /, GET /shop, GET
//! /shop/<slug>, add to cart (API), checkout (API) with a new Idempotency-Key. A checkout
//! that fails (5xx or no answer) is retried with the same key until acknowledged or the run
//! ends. Requests are counted in the phase in which they were sent.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use sqlx::AnyPool;

use crate::shop::{self, Order, Outcome, Product};
use crate::stats::{Latencies, ms};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The load balancer's URL (loopback), e.g. http://127.0.0.1:18100
    #[arg(long)]
    pub base: String,
    /// The cluster script whose kill/stop/start/failover commands inject the faults.
    #[arg(long)]
    pub cluster: PathBuf,
    /// The database the app uses (postgres://…), for stock and the final checks.
    #[arg(long)]
    pub database_url: String,
    /// Requests per second, all shoppers together.
    #[arg(long, default_value_t = 40.0)]
    pub rate: f64,
    /// Virtual shoppers.
    #[arg(long, default_value_t = 12)]
    pub users: usize,
    /// Length of each phase but the failover's, in seconds.
    #[arg(long, default_value_t = 15)]
    pub phase_secs: u64,
    /// Target: the service answers again within this many seconds of the failover.
    #[arg(long, default_value_t = 30)]
    pub recovery_target_secs: u64,
    /// The instance killed with SIGKILL.
    #[arg(long, default_value = "a1")]
    pub kill: String,
    /// The instance stopped with SIGTERM (drained).
    #[arg(long, default_value = "b1")]
    pub drain: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Phase {
    Setup,
    Baseline,
    Kill,
    Drain,
    Restart,
    Failover,
    After,
}

const PHASES: [Phase; 6] = [
    Phase::Baseline,
    Phase::Kill,
    Phase::Drain,
    Phase::Restart,
    Phase::Failover,
    Phase::After,
];

impl Phase {
    fn from_index(i: usize) -> Phase {
        match i {
            1 => Phase::Baseline,
            2 => Phase::Kill,
            3 => Phase::Drain,
            4 => Phase::Restart,
            5 => Phase::Failover,
            6 => Phase::After,
            _ => Phase::Setup,
        }
    }

    fn index(self) -> usize {
        self as usize
    }

    fn name(self) -> &'static str {
        match self {
            Phase::Setup => "setup",
            Phase::Baseline => "baseline",
            Phase::Kill => "kill",
            Phase::Drain => "drain",
            Phase::Restart => "restart",
            Phase::Failover => "failover",
            Phase::After => "after",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Home,
    Shop,
    Product,
    Cart,
    Checkout,
}

impl Kind {
    fn is_get(self) -> bool {
        matches!(self, Kind::Home | Kind::Shop | Kind::Product)
    }

    fn label(self) -> &'static str {
        match self {
            Kind::Home => "GET /",
            Kind::Shop => "GET /shop",
            Kind::Product => "GET /shop/<slug>",
            Kind::Cart => "POST /api/v1/cart/items",
            Kind::Checkout => "POST /api/v1/orders",
        }
    }
}

/// One request as sent.
struct Record {
    phase: Phase,
    kind: Kind,
    /// Since the run's start.
    sent_at: Duration,
    latency: Duration,
    ok: bool,
    served_by: Option<String>,
    detail: String,
}

/// A checkout the service acknowledged (201).
struct Ack {
    username: String,
    key: String,
    order: Order,
}

/// A checkout given up: a 4xx answer, or the run ended before an acknowledgement.
struct Unacked {
    username: String,
    key: String,
    last: String,
}

struct Shared {
    start: Instant,
    phase: AtomicUsize,
    /// Shoppers start no new journey.
    stopping: AtomicBool,
    /// Shoppers stop retrying checkouts.
    stopped: AtomicBool,
    records: Mutex<Vec<Record>>,
    acks: Mutex<Vec<Ack>>,
    unacked: Mutex<Vec<Unacked>>,
    /// Milliseconds since start of the last failed request's answer (0: none yet).
    last_failure_ms: AtomicU64,
    /// Milliseconds since start of the last acknowledged checkout.
    last_checkout_ms: AtomicU64,
}

impl Shared {
    fn phase(&self) -> Phase {
        Phase::from_index(self.phase.load(Ordering::SeqCst))
    }

    fn since_start(&self) -> Duration {
        self.start.elapsed()
    }

    fn record(&self, kind: Kind, sent_at: Duration, phase: Phase, outcome: &Outcome, ok: bool) {
        let end_ms = (sent_at + outcome.latency).as_millis() as u64;
        if ok {
            if kind == Kind::Checkout {
                self.last_checkout_ms.fetch_max(end_ms, Ordering::SeqCst);
            }
        } else {
            self.last_failure_ms.fetch_max(end_ms, Ordering::SeqCst);
        }
        self.records.lock().unwrap().push(Record {
            phase,
            kind,
            sent_at,
            latency: outcome.latency,
            ok,
            served_by: outcome.served_by.clone(),
            detail: outcome.describe(),
        });
    }
}

fn log(shared: &Shared, message: &str) {
    println!("[{:>6.1}s] {message}", shared.since_start().as_secs_f64());
}

pub async fn run(args: Args) -> anyhow::Result<bool> {
    let base = args.base.trim_end_matches('/').to_owned();
    if args.users == 0 || args.rate <= 0.0 {
        bail!("--users and --rate must be positive");
    }
    let shared = Arc::new(Shared {
        start: Instant::now(),
        phase: AtomicUsize::new(Phase::Setup.index()),
        stopping: AtomicBool::new(false),
        stopped: AtomicBool::new(false),
        records: Mutex::new(Vec::new()),
        acks: Mutex::new(Vec::new()),
        unacked: Mutex::new(Vec::new()),
        last_failure_ms: AtomicU64::new(0),
        last_checkout_ms: AtomicU64::new(0),
    });
    println!(
        "ha: {base}, {} shoppers, {} requests/s, phases of {} s; cluster {}",
        args.users,
        args.rate,
        args.phase_secs,
        args.cluster.display()
    );

    // Setup: the catalog, stock that cannot run out, the shoppers.
    let products = Arc::new(shop::catalog(&base).await?);
    let pool = shop::database(&args.database_url).await?;
    sqlx::query("UPDATE variants SET stock = 100000")
        .execute(&pool)
        .await
        .context("raising stock")?;
    let initial_stock = stocks(&pool).await?;
    log(
        &shared,
        &format!("stock of {} variants set to 100,000", initial_stock.len()),
    );
    let run = shop::run_id();
    let prefix = format!("ha{run}u");
    let mut tasks = tokio::task::JoinSet::new();
    let semaphore = Arc::new(tokio::sync::Semaphore::new(4));
    for i in 0..args.users {
        let base = base.clone();
        let username = format!("{prefix}{i}");
        let semaphore = semaphore.clone();
        tasks.spawn(async move {
            let _permit = semaphore.acquire().await?;
            let client = shop::client(true, Duration::from_secs(10))?;
            shop::register_and_sign_in(&client, &base, &username).await?;
            anyhow::Ok((username, client))
        });
    }
    let mut shoppers = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        shoppers.push(joined??);
    }
    log(
        &shared,
        &format!(
            "{} shoppers registered and signed in ({prefix}0..)",
            shoppers.len()
        ),
    );

    // The shoppers: each sends a request every users/rate seconds.
    let interval = Duration::from_secs_f64(args.users as f64 / args.rate);
    let mut shopper_tasks = tokio::task::JoinSet::new();
    for (i, (username, client)) in shoppers.into_iter().enumerate() {
        let shared = shared.clone();
        let products = products.clone();
        let base = base.clone();
        let offset = interval.mul_f64(i as f64 / args.users as f64);
        shopper_tasks.spawn(async move {
            tokio::time::sleep(offset).await;
            shopper(shared, base, client, username, products, interval, i).await;
        });
    }

    // The faults.
    let mut fault_errors = Vec::new();
    let phase_len = Duration::from_secs(args.phase_secs);
    let mut failover_at = Duration::ZERO;
    for phase in PHASES {
        let phase_start = Instant::now();
        shared.phase.store(phase.index(), Ordering::SeqCst);
        log(&shared, &format!("phase {}", phase.name()));
        let mut background = None;
        match phase {
            Phase::Baseline | Phase::After | Phase::Setup => {}
            Phase::Kill => {
                if let Err(e) = cluster(&shared, &args.cluster, &["kill", &args.kill]).await {
                    fault_errors.push(e);
                }
            }
            Phase::Drain => {
                // stop waits for the drain and the exit: the load goes on meanwhile.
                let (shared2, script, name) =
                    (shared.clone(), args.cluster.clone(), args.drain.clone());
                background = Some(tokio::spawn(async move {
                    cluster(&shared2, &script, &["stop", &name]).await
                }));
            }
            Phase::Restart => {
                for name in [&args.kill, &args.drain] {
                    if let Err(e) = cluster(&shared, &args.cluster, &["start", name]).await {
                        fault_errors.push(e);
                    }
                }
            }
            Phase::Failover => {
                failover_at = shared.since_start();
                if let Err(e) = cluster(&shared, &args.cluster, &["failover"]).await {
                    fault_errors.push(e);
                }
            }
        }
        if phase == Phase::Failover {
            // Until the service has answered every request for 10 s and acknowledged a
            // checkout since its last failure; at least one phase, at most target + 10 s.
            let cap = Duration::from_secs(args.recovery_target_secs + 10).max(phase_len);
            loop {
                tokio::time::sleep(Duration::from_millis(250)).await;
                let elapsed = phase_start.elapsed();
                let now_ms = shared.since_start().as_millis() as u64;
                let last_failure = shared.last_failure_ms.load(Ordering::SeqCst);
                let last_checkout = shared.last_checkout_ms.load(Ordering::SeqCst);
                let healthy =
                    now_ms.saturating_sub(last_failure) >= 10_000 && last_checkout > last_failure;
                if (elapsed >= phase_len && healthy) || elapsed >= cap {
                    break;
                }
            }
        } else {
            tokio::time::sleep(phase_len.saturating_sub(phase_start.elapsed())).await;
        }
        if let Some(task) = background {
            match task.await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => fault_errors.push(e),
                Err(e) => fault_errors.push(format!("cluster stop: {e}")),
            }
        }
    }

    // The end: no new journeys; checkouts in flight get a few seconds to be acknowledged.
    shared.stopping.store(true, Ordering::SeqCst);
    let run_end = shared.since_start();
    log(&shared, "load stopped; waiting for checkouts in flight");
    let grace = tokio::time::sleep(Duration::from_secs(15));
    tokio::pin!(grace);
    loop {
        tokio::select! {
            joined = shopper_tasks.join_next() => if joined.is_none() { break },
            () = &mut grace => {
                shared.stopped.store(true, Ordering::SeqCst);
                while shopper_tasks.join_next().await.is_some() {}
                break;
            }
        }
    }
    shared.stopped.store(true, Ordering::SeqCst);

    let records = std::mem::take(&mut *shared.records.lock().unwrap());
    let acks = std::mem::take(&mut *shared.acks.lock().unwrap());
    let unacked = std::mem::take(&mut *shared.unacked.lock().unwrap());
    let mut checks = Checks::default();

    println!();
    report_phases(&records);
    println!();

    checks.check(
        "fault injection: every cluster.sh command succeeded",
        fault_errors.is_empty(),
        fault_errors.join("; "),
    );
    for phase in PHASES {
        let failed: Vec<&Record> = records
            .iter()
            .filter(|r| r.phase == phase && !r.ok)
            .collect();
        let failed_gets = failed.iter().filter(|r| r.kind.is_get()).count();
        match phase {
            Phase::Baseline => checks.check(
                "baseline: no failed request",
                failed.is_empty(),
                format!("{} failed", failed.len()),
            ),
            Phase::Kill | Phase::Drain | Phase::Restart => checks.check(
                &format!("{}: no failed GET", phase.name()),
                failed_gets == 0,
                format!("{failed_gets} failed GETs"),
            ),
            _ => {}
        }
    }

    // Recovery after the failover: from its start until writes are acknowledged again (the
    // first checkout sent after it) and no request fails any more.
    let after_failover: Vec<&Record> = records
        .iter()
        .filter(|r| r.sent_at >= failover_at)
        .collect();
    let last_failure = after_failover
        .iter()
        .filter(|r| !r.ok)
        .map(|r| (r.sent_at + r.latency).saturating_sub(failover_at))
        .max();
    let first_write = after_failover
        .iter()
        .filter(|r| r.ok && r.kind == Kind::Checkout)
        .map(|r| (r.sent_at + r.latency).saturating_sub(failover_at))
        .min();
    let failed_after = after_failover.iter().filter(|r| !r.ok).count();
    let slowest = after_failover
        .iter()
        .map(|r| r.latency)
        .max()
        .unwrap_or_default();
    let recovery = first_write.map(|write| write.max(last_failure.unwrap_or_default()));
    let secs =
        |d: Option<Duration>| d.map_or("never".to_owned(), |d| format!("{:.1} s", d.as_secs_f64()));
    println!(
        "failover at +{:.1}s: first checkout acknowledged after {}; {failed_after} requests failed, the last ending after {}; slowest request {}",
        failover_at.as_secs_f64(),
        secs(first_write),
        if last_failure.is_some() {
            secs(last_failure)
        } else {
            "-".into()
        },
        ms(Some(slowest)),
    );
    println!("time to recover after the failover: {}", secs(recovery));
    let still_failing_at_end =
        last_failure.is_some_and(|t| failover_at + t + Duration::from_secs(5) > run_end);
    checks.check(
        &format!(
            "failover: service back within {} s",
            args.recovery_target_secs
        ),
        recovery.is_some_and(|r| r <= Duration::from_secs(args.recovery_target_secs))
            && !still_failing_at_end,
        format!(
            "recovery {}; requests still failing at the end of the run: {still_failing_at_end}",
            secs(recovery)
        ),
    );

    // The database's side.
    let check_start = Instant::now();
    let db_checks =
        database_checks(&pool, &prefix, &acks, &unacked, &initial_stock, &mut checks).await;
    if let Err(e) = db_checks {
        checks.check("database checks ran", false, format!("{e:#}"));
    }
    pool.close().await;
    println!(
        "(database checked in {:.1} s)",
        check_start.elapsed().as_secs_f64()
    );

    println!();
    let (passed, failed) = checks.print();
    println!("{passed} passed, {failed} failed");
    Ok(failed == 0)
}

/// One virtual shopper's loop.
async fn shopper(
    shared: Arc<Shared>,
    base: String,
    client: reqwest::Client,
    username: String,
    products: Arc<Vec<Product>>,
    interval: Duration,
    index: usize,
) {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut journey = index;
    while !shared.stopping.load(Ordering::SeqCst) {
        journey += 1;
        let product = &products[journey % products.len()];
        let variants: Vec<i64> = product.variants.iter().map(|v| v.id).collect();
        let steps = [
            (Kind::Home, "/".to_owned()),
            (Kind::Shop, "/shop".to_owned()),
            (Kind::Product, format!("/shop/{}", product.slug)),
        ];
        for (kind, path) in steps {
            ticker.tick().await;
            if shared.stopping.load(Ordering::SeqCst) {
                return;
            }
            let (phase, sent_at) = (shared.phase(), shared.since_start());
            let outcome = shop::send(shop::get(&client, &base, &path), 200).await;
            shared.record(kind, sent_at, phase, &outcome, outcome.is(200));
        }
        if variants.is_empty() {
            continue;
        }
        ticker.tick().await;
        if shared.stopping.load(Ordering::SeqCst) {
            return;
        }
        let variant = variants[journey % variants.len()];
        let (phase, sent_at) = (shared.phase(), shared.since_start());
        let outcome = shop::send(shop::add_to_cart(&client, &base, variant), 201).await;
        let added = outcome.is(201);
        shared.record(Kind::Cart, sent_at, phase, &outcome, added);
        if !added {
            // Not safe to repeat (it adds); the next journey adds again.
            continue;
        }
        ticker.tick().await;
        let key = format!("{username}-{journey}");
        loop {
            let (phase, sent_at) = (shared.phase(), shared.since_start());
            let outcome = shop::send(shop::checkout(&client, &base, &key), 201).await;
            if outcome.is(201) {
                shared.record(Kind::Checkout, sent_at, phase, &outcome, true);
                match serde_json::from_slice::<Order>(&outcome.body) {
                    Ok(order) => shared.acks.lock().unwrap().push(Ack {
                        username: username.clone(),
                        key: key.clone(),
                        order,
                    }),
                    Err(e) => shared.unacked.lock().unwrap().push(Unacked {
                        username: username.clone(),
                        key: key.clone(),
                        last: format!("201 with an unreadable body: {e}"),
                    }),
                }
                break;
            }
            shared.record(Kind::Checkout, sent_at, phase, &outcome, false);
            // Retry with the same key: no answer, a 5xx, or a 409 "being placed" (a
            // concurrent attempt with this key still runs).
            let being_placed = outcome.is(409)
                && outcome
                    .error
                    .as_deref()
                    .is_some_and(|e| e.contains("being placed"));
            if !(outcome.is_transient() || being_placed) || shared.stopped.load(Ordering::SeqCst) {
                shared.unacked.lock().unwrap().push(Unacked {
                    username: username.clone(),
                    key: key.clone(),
                    last: outcome.describe(),
                });
                break;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
}

/// Runs `cluster.sh ARGS`, echoing its output as it comes.
async fn cluster(shared: &Shared, script: &PathBuf, args: &[&str]) -> Result<(), String> {
    use tokio::io::{AsyncBufReadExt, BufReader};
    log(
        shared,
        &format!("$ {} {}", script.display(), args.join(" ")),
    );
    let started = Instant::now();
    let what = || format!("{} {}", script.display(), args.join(" "));
    let mut child = tokio::process::Command::new(script)
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("{}: {e}", what()))?;
    let mut stdout = BufReader::new(child.stdout.take().expect("piped")).lines();
    let mut stderr = BufReader::new(child.stderr.take().expect("piped")).lines();
    let (mut out_open, mut err_open) = (true, true);
    while out_open || err_open {
        tokio::select! {
            line = stdout.next_line(), if out_open => match line {
                Ok(Some(line)) => log(shared, &format!("  {line}")),
                _ => out_open = false,
            },
            line = stderr.next_line(), if err_open => match line {
                Ok(Some(line)) => log(shared, &format!("  {line}")),
                _ => err_open = false,
            },
        }
    }
    let status = child.wait().await.map_err(|e| format!("{}: {e}", what()))?;
    log(
        shared,
        &format!(
            "  ({} {:.1} s)",
            if status.success() {
                "done in"
            } else {
                "FAILED after"
            },
            started.elapsed().as_secs_f64()
        ),
    );
    if status.success() {
        Ok(())
    } else {
        Err(format!(
            "cluster.sh {} exited with {status}",
            args.join(" ")
        ))
    }
}

fn report_phases(records: &[Record]) {
    println!(
        "{:<9} {:>5} {:>6} {:>7} {:>7} {:>7} {:>8} {:>8} {:>8}  served by",
        "phase", "secs", "sent", "failed", "failed", "failed", "p50", "p99", "max"
    );
    println!(
        "{:<9} {:>5} {:>6} {:>7} {:>7} {:>7} {:>8} {:>8} {:>8}",
        "", "", "", "", "GET", "POST", "", "", ""
    );
    let mut samples = Vec::new();
    for phase in PHASES {
        let in_phase: Vec<&Record> = records.iter().filter(|r| r.phase == phase).collect();
        let mut latencies = Latencies::default();
        for r in &in_phase {
            latencies.push(r.latency);
        }
        let failed: Vec<&&Record> = in_phase.iter().filter(|r| !r.ok).collect();
        let failed_get = failed.iter().filter(|r| r.kind.is_get()).count();
        let span = match (in_phase.first(), in_phase.last()) {
            (Some(a), Some(b)) => (b.sent_at.saturating_sub(a.sent_at)).as_secs_f64(),
            _ => 0.0,
        };
        let mut served: BTreeMap<&str, usize> = BTreeMap::new();
        for r in &in_phase {
            *served
                .entry(r.served_by.as_deref().unwrap_or("-"))
                .or_default() += 1;
        }
        let served: Vec<String> = served.iter().map(|(k, v)| format!("{k}:{v}")).collect();
        println!(
            "{:<9} {:>5.0} {:>6} {:>7} {:>7} {:>7} {:>8} {:>8} {:>8}  {}",
            phase.name(),
            span,
            in_phase.len(),
            failed.len(),
            failed_get,
            failed.len() - failed_get,
            ms(latencies.percentile(0.50)),
            ms(latencies.percentile(0.99)),
            ms(latencies.max()),
            served.join(" ")
        );
        // The failures, grouped by request and answer, for the report.
        let mut groups: BTreeMap<(&str, String), (usize, Duration, Duration)> = BTreeMap::new();
        for r in &failed {
            let detail: String = r.detail.chars().take(140).collect();
            let entry = groups
                .entry((r.kind.label(), detail))
                .or_insert((0, r.sent_at, r.sent_at));
            entry.0 += 1;
            entry.1 = entry.1.min(r.sent_at);
            entry.2 = entry.2.max(r.sent_at);
        }
        for ((kind, detail), (count, first, last)) in groups {
            samples.push(format!(
                "  {:<8} {count:>4} × {kind} → {detail}  (sent +{:.1}s..+{:.1}s)",
                phase.name(),
                first.as_secs_f64(),
                last.as_secs_f64()
            ));
        }
    }
    if !samples.is_empty() {
        println!("failed requests (phase, count, request → answer):");
        for s in samples {
            println!("{s}");
        }
    }
}

async fn stocks(pool: &AnyPool) -> anyhow::Result<HashMap<i64, i64>> {
    let rows: Vec<(i64, i64)> = sqlx::query_as("SELECT id, stock FROM variants")
        .fetch_all(pool)
        .await
        .context("reading stock")?;
    Ok(rows.into_iter().collect())
}

async fn database_checks(
    pool: &AnyPool,
    prefix: &str,
    acks: &[Ack],
    unacked: &[Unacked],
    initial_stock: &HashMap<i64, i64>,
    checks: &mut Checks,
) -> anyhow::Result<()> {
    // prefix is "ha<base36>u": letters and digits only, safe in a literal.
    debug_assert!(prefix.chars().all(|c| c.is_ascii_alphanumeric()));
    let orders: Vec<(String, Option<String>, String, i64, i64)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT o.code, o.idempotency_key, o.username, \
                (SELECT COUNT(*) FROM order_lines l WHERE l.order_id = o.id), \
                CAST((SELECT COALESCE(SUM(l.quantity), 0) FROM order_lines l WHERE l.order_id = o.id) AS BIGINT) \
         FROM orders o WHERE o.username LIKE '{prefix}%'"
    )))
    .fetch_all(pool)
    .await
    .context("reading the run's orders")?;
    println!(
        "database: {} orders of this run's shoppers; {} checkouts acknowledged, {} not",
        orders.len(),
        acks.len(),
        unacked.len()
    );
    for u in unacked.iter().take(10) {
        println!(
            "  not acknowledged: {} key {}: {}",
            u.username, u.key, u.last
        );
    }

    let by_code: HashMap<&str, &(String, Option<String>, String, i64, i64)> =
        orders.iter().map(|o| (o.0.as_str(), o)).collect();
    let mut lost = Vec::new();
    for ack in acks {
        let lines = ack.order.lines.len() as i64;
        let quantity: i64 = ack.order.lines.iter().map(|l| l.quantity).sum();
        match by_code.get(ack.order.code.as_str()) {
            None => lost.push(format!("{} (key {}) missing", ack.order.code, ack.key)),
            Some((_, key, username, db_lines, db_quantity)) => {
                if key.as_deref() != Some(ack.key.as_str())
                    || username != &ack.username
                    || *db_lines != lines
                    || *db_quantity != quantity
                    || lines == 0
                {
                    lost.push(format!(
                        "{} differs: key {:?} user {username} {db_lines} lines/{db_quantity} items, acknowledged key {} user {} {lines} lines/{quantity} items",
                        ack.order.code, key, ack.key, ack.username
                    ));
                }
            }
        }
    }
    checks.check(
        "every acknowledged order exists with its lines",
        lost.is_empty() && !acks.is_empty(),
        if acks.is_empty() {
            "no checkout was acknowledged".into()
        } else {
            format!(
                "{} of {}: {}",
                lost.len(),
                acks.len(),
                lost.iter().take(5).cloned().collect::<Vec<_>>().join("; ")
            )
        },
    );

    let mut per_key: HashMap<(&str, &str), usize> = HashMap::new();
    for (_, key, username, _, _) in &orders {
        if let Some(key) = key {
            *per_key
                .entry((username.as_str(), key.as_str()))
                .or_default() += 1;
        }
    }
    let twice: Vec<String> = per_key
        .iter()
        .filter(|(_, n)| **n > 1)
        .map(|((u, k), n)| format!("{u}/{k}: {n} orders"))
        .collect();
    checks.check(
        "no Idempotency-Key has two orders",
        twice.is_empty(),
        twice.join("; "),
    );
    // Orders that no client heard of: committed, but every answer was lost and the run ended.
    let acked_keys: std::collections::HashSet<&str> = acks.iter().map(|a| a.key.as_str()).collect();
    let unheard = orders
        .iter()
        .filter(|o| o.1.as_deref().is_none_or(|k| !acked_keys.contains(k)))
        .count();
    if unheard > 0 {
        println!("  {unheard} orders exist whose checkout was never acknowledged to the shopper");
    }
    checks.check(
        "every checkout was acknowledged in the end (retried with its key)",
        unacked.is_empty(),
        format!("{} checkouts never acknowledged", unacked.len()),
    );

    let negative: Vec<(i64, i64)> =
        sqlx::query_as("SELECT id, stock FROM variants WHERE stock < 0")
            .fetch_all(pool)
            .await
            .context("reading stock")?;
    checks.check(
        "no stock went negative",
        negative.is_empty(),
        format!("{negative:?}"),
    );

    let sold: Vec<(i64, i64)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT l.variant_id, CAST(SUM(l.quantity) AS BIGINT) FROM order_lines l \
         JOIN orders o ON o.id = l.order_id WHERE o.username LIKE '{prefix}%' GROUP BY l.variant_id"
    )))
    .fetch_all(pool)
    .await
    .context("reading the quantities sold")?;
    let sold: HashMap<i64, i64> = sold.into_iter().collect();
    let now = stocks(pool).await?;
    let mut drift = Vec::new();
    for (variant, before) in initial_stock {
        let expected = before - sold.get(variant).copied().unwrap_or(0);
        let actual = now.get(variant).copied().unwrap_or(i64::MIN);
        if expected != actual {
            drift.push(format!(
                "variant {variant}: {before} - {} sold = {expected}, stock {actual}",
                sold.get(variant).copied().unwrap_or(0)
            ));
        }
    }
    checks.check(
        "stock moved exactly by the quantities ordered",
        drift.is_empty(),
        drift.iter().take(5).cloned().collect::<Vec<_>>().join("; "),
    );
    Ok(())
}

#[derive(Default)]
struct Checks {
    results: Vec<(String, bool, String)>,
}

impl Checks {
    fn check(&mut self, name: &str, ok: bool, detail: impl Into<String>) {
        self.results.push((name.to_owned(), ok, detail.into()));
    }

    fn print(&self) -> (usize, usize) {
        let mut passed = 0;
        for (name, ok, detail) in &self.results {
            if *ok {
                passed += 1;
                println!("PASS {name}");
            } else {
                println!("FAIL {name}: {detail}");
            }
        }
        (passed, self.results.len() - passed)
    }
}
