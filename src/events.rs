//! Recording what shoppers do, for the insights: page views by area, product views, cart
//! additions, checkouts started and completed, cancellations, sign-ups, sign-ins and Radar
//! searches.
//!
//! Recording never slows a request down: events go into a bounded queue, a background task
//! writes them in batches (identical events as one row with their number), and when the
//! queue is full (the database is slow or away) new events are dropped and counted rather
//! than waited for. The queue is flushed when the
//! instance drains.

use std::collections::HashMap;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

use crate::db::events::{EVENTS_PER_INSERT, EventRow};
use crate::db::{Db, now_ms};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventKind {
    PageView,
    ProductView,
    AddToCart,
    CheckoutStarted,
    CheckoutCompleted,
    OrderCancelled,
    SignUp,
    SignIn,
    RadarSearch,
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PageView => "page_view",
            Self::ProductView => "product_view",
            Self::AddToCart => "add_to_cart",
            Self::CheckoutStarted => "checkout_started",
            Self::CheckoutCompleted => "checkout_completed",
            Self::OrderCancelled => "order_cancelled",
            Self::SignUp => "sign_up",
            Self::SignIn => "sign_in",
            Self::RadarSearch => "radar_search",
        }
    }
}

/// An event as recorded; two equal ones are the same for the insights (their moment is
/// kept beside them).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Event {
    pub kind: Option<EventKind>,
    pub area: Option<&'static str>,
    pub user_id: Option<i64>,
    pub product_id: Option<i64>,
    pub variant_id: Option<i64>,
}

impl Event {
    pub fn new(kind: EventKind) -> Self {
        Self {
            kind: Some(kind),
            ..Self::default()
        }
    }

    pub fn user(mut self, user_id: Option<i64>) -> Self {
        self.user_id = user_id;
        self
    }

    pub fn area(mut self, area: &'static str) -> Self {
        self.area = Some(area);
        self
    }

    pub fn product(mut self, product_id: i64) -> Self {
        self.product_id = Some(product_id);
        self
    }

    pub fn variant(mut self, variant_id: i64) -> Self {
        self.variant_id = Some(variant_id);
        self
    }
}

enum Message {
    Record(Event, i64),
    Flush(oneshot::Sender<()>),
}

/// The handle requests use to record events.
#[derive(Clone)]
pub struct EventSink {
    queue: mpsc::Sender<Message>,
}

/// Events waiting beyond this are dropped: the shop matters more than its statistics.
const QUEUE: usize = 10_000;
/// Events are written once this many different ones wait, or every [`INTERVAL`].
const BATCH: usize = EVENTS_PER_INSERT;
/// Events are written at least this often.
const INTERVAL: Duration = Duration::from_secs(1);

impl EventSink {
    pub fn start(db: Db) -> Self {
        let (queue, receiver) = mpsc::channel(QUEUE);
        tokio::spawn(write_batches(db, receiver));
        Self { queue }
    }

    pub fn record(&self, event: Event) {
        if self
            .queue
            .try_send(Message::Record(event, now_ms()))
            .is_err()
        {
            metrics::counter!("events_dropped_total").increment(1);
        }
    }

    /// Writes everything recorded so far (on drain, and in tests).
    pub async fn flush(&self) {
        let (done, wait) = oneshot::channel();
        if self.queue.send(Message::Flush(done)).await.is_ok() {
            let _ = wait.await;
        }
    }
}

/// The events waiting to be written, identical ones together: under load most are the
/// same few page views, and one row with their number costs the database one insert
/// instead of hundreds. A row keeps its first event's moment (at most [`INTERVAL`] early).
#[derive(Default)]
struct Pending {
    /// Each different event with its first moment and its number.
    events: HashMap<Event, (i64, i64)>,
}

impl Pending {
    fn add(&mut self, event: Event, at: i64) {
        self.events.entry(event).or_insert((at, 0)).1 += 1;
    }

    fn rows(&mut self) -> Vec<EventRow> {
        self.events
            .drain()
            .map(|(event, (first_at, occurrences))| EventRow {
                kind: event.kind.map_or("unknown", EventKind::as_str).to_owned(),
                area: event.area.map(str::to_owned),
                user_id: event.user_id,
                product_id: event.product_id,
                variant_id: event.variant_id,
                occurred_at: first_at,
                occurrences,
            })
            .collect()
    }
}

async fn write_batches(db: Db, mut receiver: mpsc::Receiver<Message>) {
    let mut pending = Pending::default();
    let mut ticker = tokio::time::interval(INTERVAL);
    loop {
        tokio::select! {
            message = receiver.recv() => match message {
                Some(Message::Record(event, at)) => {
                    pending.add(event, at);
                    if pending.events.len() >= BATCH {
                        write(&db, &mut pending).await;
                    }
                }
                Some(Message::Flush(done)) => {
                    write(&db, &mut pending).await;
                    let _ = done.send(());
                }
                None => {
                    write(&db, &mut pending).await;
                    return;
                }
            },
            _ = ticker.tick() => write(&db, &mut pending).await,
        }
    }
}

async fn write(db: &Db, pending: &mut Pending) {
    let rows = pending.rows();
    for batch in rows.chunks(EVENTS_PER_INSERT) {
        if let Err(error) = db.insert_events(batch).await {
            // Lost events are a gap in statistics, not in the shop; say how many.
            let lost: i64 = batch.iter().map(|row| row.occurrences).sum();
            tracing::warn!(%error, events = lost, "could not write events");
            metrics::counter!("events_dropped_total").increment(lost as u64);
        }
    }
}
