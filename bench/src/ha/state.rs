//! What the shoppers and the fault driver share while the run lasts: the current phase, the
//! signals that end the load, and every request and checkout as it happened. The checks and
//! the report read it only once the load has stopped.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU8, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::shop::{Order, Outcome};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Phase {
    Setup,
    Baseline,
    Kill,
    Drain,
    Restart,
    Upgrade,
    Failover,
    Rejoin,
    StorageOutage,
    SlowDatabase,
    SlowerDatabase,
    DatabaseBack,
    ZoneLoss,
    After,
}

/// The phases under load, in the order they run.
pub const PHASES: [Phase; 13] = [
    Phase::Baseline,
    Phase::Kill,
    Phase::Drain,
    Phase::Restart,
    Phase::Upgrade,
    Phase::Failover,
    Phase::Rejoin,
    Phase::StorageOutage,
    Phase::SlowDatabase,
    Phase::SlowerDatabase,
    Phase::DatabaseBack,
    Phase::ZoneLoss,
    Phase::After,
];

impl Phase {
    fn from_index(i: usize) -> Phase {
        i.checked_sub(1)
            .and_then(|i| PHASES.get(i))
            .copied()
            .unwrap_or(Phase::Setup)
    }

    fn index(self) -> usize {
        self as usize
    }

    pub fn name(self) -> &'static str {
        match self {
            Phase::Setup => "setup",
            Phase::Baseline => "baseline",
            Phase::Kill => "kill",
            Phase::Drain => "drain",
            Phase::Restart => "restart",
            Phase::Upgrade => "upgrade",
            Phase::Failover => "failover",
            Phase::Rejoin => "rejoin",
            Phase::StorageOutage => "s3 outage",
            Phase::SlowDatabase => "slow db",
            Phase::SlowerDatabase => "slower db",
            Phase::DatabaseBack => "db back",
            Phase::ZoneLoss => "zone loss",
            Phase::After => "after",
        }
    }
}

/// The steps of a shopper's journey, and the pages an anonymous visitor reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Home,
    Shop,
    Product,
    Cart,
    Checkout,
    /// A signed-in shopper's new profile picture.
    Upload,
    Guest(GuestPage),
}

/// What the anonymous visitor reads, in turn: pages and the catalog API need no session, so
/// they can be answered from the catalog snapshot while the database is away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GuestPage {
    Home,
    Shop,
    Product,
    CatalogApi,
}

pub const GUEST_PAGES: [GuestPage; 4] = [
    GuestPage::Home,
    GuestPage::Shop,
    GuestPage::Product,
    GuestPage::CatalogApi,
];

impl Kind {
    pub fn is_get(self) -> bool {
        matches!(
            self,
            Kind::Home | Kind::Shop | Kind::Product | Kind::Guest(_)
        )
    }

    pub fn is_guest(self) -> bool {
        matches!(self, Kind::Guest(_))
    }

    pub fn label(self) -> &'static str {
        match self {
            Kind::Home => "GET /",
            Kind::Shop => "GET /shop",
            Kind::Product => "GET /shop/<slug>",
            Kind::Cart => "POST /api/v1/cart/items",
            Kind::Checkout => "POST /api/v1/orders",
            Kind::Upload => "PUT /api/v1/me/photo",
            Kind::Guest(GuestPage::Home) => "anonymous GET /",
            Kind::Guest(GuestPage::Shop) => "anonymous GET /shop",
            Kind::Guest(GuestPage::Product) => "anonymous GET /shop/<slug>",
            Kind::Guest(GuestPage::CatalogApi) => "anonymous GET /api/v1/products",
        }
    }
}

/// One request as sent.
pub struct Record {
    pub phase: Phase,
    pub kind: Kind,
    /// Since the run's start.
    pub sent_at: Duration,
    pub latency: Duration,
    pub ok: bool,
    /// The HTTP status, None without an answer.
    pub status: Option<u16>,
    /// Answered from a catalog snapshot past its time to live (X-Catalog-Stale).
    pub stale: bool,
    pub served_by: Option<String>,
    pub detail: String,
}

impl Record {
    /// When its answer came (or the request gave up), since the run's start.
    pub fn ended_at(&self) -> Duration {
        self.sent_at + self.latency
    }
}

/// A checkout the service acknowledged (201).
pub struct Ack {
    pub username: String,
    pub key: String,
    pub order: Order,
}

/// A checkout given up: a 4xx answer, or the run ended before an acknowledgement.
pub struct Unacked {
    pub username: String,
    pub key: String,
    pub last: String,
}

/// Everything the run recorded, once the load has stopped.
pub struct Results {
    pub records: Vec<Record>,
    pub acks: Vec<Ack>,
    pub unacked: Vec<Unacked>,
}

/// Shoppers start no new journey.
const NO_NEW_JOURNEYS: u8 = 1;
/// Shoppers stop retrying checkouts too.
const NO_RETRIES: u8 = 2;

pub struct Shared {
    start: Instant,
    phase: AtomicUsize,
    /// How far the load has stopped: 0 running, then NO_NEW_JOURNEYS, then NO_RETRIES.
    stop: AtomicU8,
    records: Mutex<Vec<Record>>,
    acks: Mutex<Vec<Ack>>,
    unacked: Mutex<Vec<Unacked>>,
    /// Milliseconds since start of the last failed request's answer (0: none yet).
    last_failure_ms: AtomicU64,
    /// Milliseconds since start of the last acknowledged checkout.
    last_checkout_ms: AtomicU64,
}

impl Shared {
    pub fn new() -> Shared {
        Shared {
            start: Instant::now(),
            phase: AtomicUsize::new(Phase::Setup.index()),
            stop: AtomicU8::new(0),
            records: Mutex::new(Vec::new()),
            acks: Mutex::new(Vec::new()),
            unacked: Mutex::new(Vec::new()),
            last_failure_ms: AtomicU64::new(0),
            last_checkout_ms: AtomicU64::new(0),
        }
    }

    /// Prints a line stamped with the seconds since the run's start.
    pub fn log(&self, message: &str) {
        println!("[{:>6.1}s] {message}", self.since_start().as_secs_f64());
    }

    pub fn since_start(&self) -> Duration {
        self.start.elapsed()
    }

    pub fn phase(&self) -> Phase {
        Phase::from_index(self.phase.load(Ordering::SeqCst))
    }

    pub fn enter(&self, phase: Phase) {
        self.phase.store(phase.index(), Ordering::SeqCst);
        self.log(&format!("phase {}", phase.name()));
    }

    pub fn is_stopping(&self) -> bool {
        self.stop.load(Ordering::SeqCst) >= NO_NEW_JOURNEYS
    }

    pub fn retries_stopped(&self) -> bool {
        self.stop.load(Ordering::SeqCst) >= NO_RETRIES
    }

    pub fn stop_new_journeys(&self) {
        self.stop.fetch_max(NO_NEW_JOURNEYS, Ordering::SeqCst);
    }

    pub fn stop_retries(&self) {
        self.stop.fetch_max(NO_RETRIES, Ordering::SeqCst);
    }

    pub fn record(&self, kind: Kind, sent_at: Duration, phase: Phase, outcome: &Outcome, ok: bool) {
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
            status: outcome.status,
            stale: outcome.stale,
            served_by: outcome.served_by.clone(),
            detail: outcome.describe(),
        });
    }

    pub fn acknowledged(&self, ack: Ack) {
        self.acks.lock().unwrap().push(ack);
    }

    pub fn gave_up(&self, unacked: Unacked) {
        self.unacked.lock().unwrap().push(unacked);
    }

    /// No request has failed for `quiet`, and a checkout was acknowledged since the last
    /// failure.
    pub fn healthy_for(&self, quiet: Duration) -> bool {
        healthy(
            self.since_start().as_millis() as u64,
            self.last_failure_ms.load(Ordering::SeqCst),
            self.last_checkout_ms.load(Ordering::SeqCst),
            quiet,
        )
    }

    /// (answered as expected, latency) of each request sent in `range`, so far.
    pub fn sent_in(&self, range: std::ops::Range<Duration>) -> Vec<(bool, Duration)> {
        let records = self.records.lock().unwrap();
        records
            .iter()
            .filter(|r| range.contains(&r.sent_at))
            .map(|r| (r.ok, r.latency))
            .collect()
    }

    pub fn take_results(&self) -> Results {
        Results {
            records: std::mem::take(&mut *self.records.lock().unwrap()),
            acks: std::mem::take(&mut *self.acks.lock().unwrap()),
            unacked: std::mem::take(&mut *self.unacked.lock().unwrap()),
        }
    }
}

fn healthy(now_ms: u64, last_failure_ms: u64, last_checkout_ms: u64, quiet: Duration) -> bool {
    now_ms.saturating_sub(last_failure_ms) >= quiet.as_millis() as u64
        && last_checkout_ms > last_failure_ms
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_phase_survives_its_index() {
        for phase in std::iter::once(Phase::Setup).chain(PHASES) {
            assert_eq!(Phase::from_index(phase.index()), phase);
        }
        assert_eq!(Phase::from_index(99), Phase::Setup);
    }

    #[test]
    fn healthy_needs_quiet_and_a_checkout_after_the_last_failure() {
        let quiet = Duration::from_secs(10);
        assert!(healthy(30_000, 20_000, 25_000, quiet));
        assert!(
            !healthy(29_999, 20_000, 25_000, quiet),
            "not quiet long enough"
        );
        assert!(!healthy(40_000, 20_000, 19_000, quiet), "no checkout since");
        assert!(!healthy(40_000, 0, 0, quiet), "no checkout at all");
        assert!(healthy(40_000, 0, 1, quiet), "no failure, a checkout");
    }
}
