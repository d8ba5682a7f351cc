//! The load: every virtual shopper sends one request each users/rate seconds, so that all
//! together send --rate a second, their starts spread over one interval. A journey is GET /,
//! GET /shop, GET /shop/<slug>, add to cart (API), checkout (API) with a new Idempotency-Key.
//! A checkout that fails (5xx or no answer) is retried with the same key until acknowledged
//! or the run ends. Each request is recorded in the phase in which it was sent.
//!
//! Beside them an anonymous visitor (no cookies) reads the home page, the shop, a product
//! page and the catalog API in turn at --guest-rate: what must keep answering, from the
//! catalog snapshot, while the database is away.

use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinSet;
use tokio::time::{Interval, MissedTickBehavior};

use super::state::{Ack, GUEST_PAGES, GuestPage, Kind, Shared, Unacked};
use crate::shop::{self, Order, Outcome, Product};

/// How long checkouts still in flight may take once the load stops.
const GRACE: Duration = Duration::from_secs(15);

/// The shoppers at work.
pub struct Load {
    tasks: JoinSet<()>,
}

pub fn start(
    shared: &Arc<Shared>,
    base: &str,
    shoppers: Vec<(String, reqwest::Client)>,
    products: &Arc<Vec<Product>>,
    rate: f64,
    guest: (reqwest::Client, f64),
) -> Load {
    let users = shoppers.len();
    let interval = Duration::from_secs_f64(users as f64 / rate);
    let mut tasks = JoinSet::new();
    let (guest_client, guest_rate) = guest;
    if guest_rate > 0.0 {
        let (shared, base, products) = (shared.clone(), base.to_owned(), products.clone());
        let every = Duration::from_secs_f64(1.0 / guest_rate);
        tasks.spawn(
            async move { read_as_guest(&shared, &base, &guest_client, &products, every).await },
        );
    }
    for (i, (username, client)) in shoppers.into_iter().enumerate() {
        let shopper = Shopper {
            shared: shared.clone(),
            base: base.to_owned(),
            client,
            username,
        };
        let products = products.clone();
        let offset = interval.mul_f64(i as f64 / users as f64);
        tasks.spawn(async move {
            tokio::time::sleep(offset).await;
            shopper.walk(&products, interval, i).await;
        });
    }
    Load { tasks }
}

impl Load {
    /// No new journeys; checkouts in flight get a few seconds to be acknowledged, then stop
    /// being retried. Returns when the load stopped (since the run's start).
    pub async fn stop(mut self, shared: &Shared) -> Duration {
        shared.stop_new_journeys();
        let run_end = shared.since_start();
        shared.log("load stopped; waiting for checkouts in flight");
        let grace = tokio::time::sleep(GRACE);
        tokio::pin!(grace);
        loop {
            tokio::select! {
                joined = self.tasks.join_next() => if joined.is_none() { break },
                () = &mut grace => {
                    shared.stop_retries();
                    while self.tasks.join_next().await.is_some() {}
                    break;
                }
            }
        }
        shared.stop_retries();
        run_end
    }
}

/// The anonymous visitor: one GET each `every`, the guest pages in turn, until the load
/// stops.
async fn read_as_guest(
    shared: &Shared,
    base: &str,
    client: &reqwest::Client,
    products: &[Product],
    every: Duration,
) {
    let mut ticker = tokio::time::interval(every);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    for turn in 0.. {
        ticker.tick().await;
        if shared.is_stopping() {
            return;
        }
        let page = GUEST_PAGES[turn % GUEST_PAGES.len()];
        let path = match page {
            GuestPage::Home => "/".to_owned(),
            GuestPage::Shop => "/shop".to_owned(),
            GuestPage::Product => format!("/shop/{}", products[turn % products.len()].slug),
            GuestPage::CatalogApi => "/api/v1/products".to_owned(),
        };
        send_recorded(
            shared,
            Kind::Guest(page),
            shop::get(client, base, &path),
            200,
        )
        .await;
    }
}

/// One virtual shopper: a signed-in client and where its requests are recorded.
struct Shopper {
    shared: Arc<Shared>,
    base: String,
    client: reqwest::Client,
    username: String,
}

impl Shopper {
    /// Journeys, one after another, until the load stops.
    async fn walk(&self, products: &[Product], interval: Duration, index: usize) {
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut journey = index;
        while !self.shared.is_stopping() {
            journey += 1;
            let product = &products[journey % products.len()];
            if !self.browse(&mut ticker, product).await {
                return;
            }
            if product.variants.is_empty() {
                continue;
            }
            if !self.next_turn(&mut ticker).await {
                return;
            }
            let variant = product.variants[journey % product.variants.len()].id;
            let request = shop::add_to_cart(&self.client, &self.base, variant);
            if !self.send(Kind::Cart, request, 201).await.is(201) {
                // Not safe to repeat (it adds); the next journey adds again.
                continue;
            }
            ticker.tick().await;
            self.check_out(&format!("{}-{journey}", self.username))
                .await;
        }
    }

    /// The three pages on the way to a product; false once the load stops.
    async fn browse(&self, ticker: &mut Interval, product: &Product) -> bool {
        let steps = [
            (Kind::Home, "/".to_owned()),
            (Kind::Shop, "/shop".to_owned()),
            (Kind::Product, format!("/shop/{}", product.slug)),
        ];
        for (kind, path) in steps {
            if !self.next_turn(ticker).await {
                return false;
            }
            self.send(kind, shop::get(&self.client, &self.base, &path), 200)
                .await;
        }
        true
    }

    /// Waits for this shopper's next turn; false when the load has stopped meanwhile.
    async fn next_turn(&self, ticker: &mut Interval) -> bool {
        ticker.tick().await;
        !self.shared.is_stopping()
    }

    /// Places the order, retrying with the same key until it is acknowledged, refused, or
    /// the run stops retrying.
    async fn check_out(&self, key: &str) {
        loop {
            let request = shop::checkout(&self.client, &self.base, key);
            let outcome = self.send(Kind::Checkout, request, 201).await;
            if outcome.is(201) {
                self.acknowledged(key, &outcome);
                return;
            }
            if !worth_retrying(&outcome) || self.shared.retries_stopped() {
                self.gave_up(key, outcome.describe());
                return;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    fn acknowledged(&self, key: &str, outcome: &Outcome) {
        match serde_json::from_slice::<Order>(&outcome.body) {
            Ok(order) => self.shared.acknowledged(Ack {
                username: self.username.clone(),
                key: key.to_owned(),
                order,
            }),
            Err(e) => self.gave_up(key, format!("201 with an unreadable body: {e}")),
        }
    }

    fn gave_up(&self, key: &str, last: String) {
        self.shared.gave_up(Unacked {
            username: self.username.clone(),
            key: key.to_owned(),
            last,
        });
    }

    /// Sends one request and records it in the phase it was sent in.
    async fn send(&self, kind: Kind, request: reqwest::RequestBuilder, expected: u16) -> Outcome {
        send_recorded(&self.shared, kind, request, expected).await
    }
}

/// Sends one request and records it in the phase it was sent in.
pub async fn send_recorded(
    shared: &Shared,
    kind: Kind,
    request: reqwest::RequestBuilder,
    expected: u16,
) -> Outcome {
    let (phase, sent_at) = (shared.phase(), shared.since_start());
    let outcome = shop::send(request, expected).await;
    shared.record(kind, sent_at, phase, &outcome, outcome.is(expected));
    outcome
}

/// A checkout is tried again with the same key after no answer, a 5xx, or a 409 "being
/// placed" (a concurrent attempt with this key still runs).
fn worth_retrying(outcome: &Outcome) -> bool {
    let being_placed = outcome.is(409)
        && outcome
            .error
            .as_deref()
            .is_some_and(|e| e.contains("being placed"));
    outcome.is_transient() || being_placed
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: Option<u16>, error: Option<&str>) -> Outcome {
        Outcome {
            status,
            latency: Duration::ZERO,
            error: error.map(str::to_owned),
            served_by: None,
            stale: false,
            retry_after: false,
            body: Vec::new(),
        }
    }

    #[test]
    fn checkouts_are_retried_only_when_the_answer_may_change() {
        assert!(worth_retrying(&answer(None, Some("connection refused"))));
        assert!(worth_retrying(&answer(Some(503), None)));
        assert!(worth_retrying(&answer(
            Some(409),
            Some("{\"error\": \"This order is being placed.\"}")
        )));
        assert!(!worth_retrying(&answer(
            Some(409),
            Some("{\"error\": \"Your cart is empty.\"}")
        )));
        assert!(!worth_retrying(&answer(Some(422), None)));
    }
}
