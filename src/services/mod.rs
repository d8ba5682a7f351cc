//! Use cases shared by the HTML pages and the JSON API: each rule lives here once, and both
//! front doors call it.
//!
//! [`Services`] holds what the use cases work with. Its fields are private to this module
//! and its children, so the layers above can reach the database, the stores and the mail
//! only through a use case.

pub mod accounts;
pub mod catalog;
pub mod checkout;
pub mod insights;
pub mod limits;
pub mod media;
pub mod notices;
pub mod payments;
pub mod picker;
pub mod radar;
pub mod retention;
pub mod shop;
pub mod staff;
#[cfg(test)]
pub(crate) mod testing;

use std::sync::Arc;

use crate::config::LimitSettings;
use crate::db::Db;
use crate::events::{Event, EventSink};
use crate::mail::Mailer;
use crate::pictures::Pictures;
use crate::storage::Storage;
use catalog::CatalogCache;

/// What the use cases need to know of the instance's settings.
#[derive(Debug, Clone)]
pub struct ServiceSettings {
    /// The shop's public address, for links in mails.
    pub public_url: String,
    pub limits: LimitSettings,
    /// How long a guest's session lives, in seconds.
    pub guest_session_secs: u64,
    /// How long a sign-in lasts, in seconds.
    pub session_secs: u64,
    /// How long a password-reset link works, in seconds.
    pub reset_link_secs: u64,
    pub pricing: crate::domain::pricing::Pricing,
}

/// The use cases' dependencies; cheap to clone (everything inside is shared).
#[derive(Clone)]
pub struct Services {
    db: Db,
    storage: Storage,
    mailer: Mailer,
    events: EventSink,
    pictures: Arc<Pictures>,
    catalog: Arc<CatalogCache>,
    settings: Arc<ServiceSettings>,
    /// None: the shop takes payment on delivery only.
    payments: Option<Arc<payments::Payments>>,
}

impl Services {
    pub fn new(
        db: Db,
        storage: Storage,
        mailer: Mailer,
        events: EventSink,
        pictures: Pictures,
        catalog: CatalogCache,
        settings: ServiceSettings,
    ) -> Self {
        Self {
            db,
            storage,
            mailer,
            events,
            pictures: Arc::new(pictures),
            catalog: Arc::new(catalog),
            settings: Arc::new(settings),
            payments: None,
        }
    }

    /// Takes card payments through this Stripe account (without, payment on delivery).
    pub fn with_payments(mut self, payments: Option<payments::Payments>) -> Self {
        self.payments = payments.map(Arc::new);
        self
    }

    /// Records what a visitor did, for the insights (queued, written in batches).
    pub fn record(&self, event: Event) {
        self.events.record(event);
    }

    /// Writes the events still queued; called once requests are done.
    pub async fn flush_events(&self) {
        self.events.flush().await;
    }

    /// The picture pipeline's limits, for the routes that take uploads.
    pub fn pictures(&self) -> &Pictures {
        &self.pictures
    }

    /// Whether the database answers (for readiness).
    pub async fn ping_database(&self) -> Result<(), sqlx::Error> {
        self.db.ping().await
    }

    /// Runs one request's work with its database calls sharing one budget, the call
    /// timeout (see `db::bounded`).
    pub async fn within_database_budget<F: Future>(&self, work: F) -> F::Output {
        self.db.pool().within_budget(work).await
    }

    /// The database pool's connections now (for the metrics).
    pub fn database_pool(&self) -> crate::db::PoolUse {
        self.db.pool().usage()
    }

    /// Whether the object store answers (for readiness).
    pub async fn ping_storage(&self) -> Result<(), object_store::Error> {
        self.storage.ping().await
    }

    /// Which database and object store this instance uses, for its logs and readiness.
    pub fn describe(&self) -> (crate::db::Backend, &str) {
        (self.db.backend(), self.storage.description())
    }
}
