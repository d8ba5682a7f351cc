//! Coffee Radar: a coffee shop web store in one stateless binary.
//!
//! Layers, each using only those below it (docs/architecture.md): `domain` holds the rules
//! without I/O, `db` all SQL, `services` every use case, shared by the HTML pages (`web`)
//! and the JSON API (`api`) through `state` and `auth`; `app` wires the router and the
//! middleware. `config` declares every setting; `ops` has metrics, logs and draining;
//! `payments` talks to the card payment provider (Stripe) and checks its webhooks.

pub mod api;
pub mod app;
pub mod assets;
pub mod auth;
pub mod catalog_seed;
pub mod cli;
pub mod config;
pub mod db;
pub mod domain;
pub mod error;
pub mod events;
pub mod export;
pub mod flash;
pub mod import_flask;
pub mod mail;
pub mod memory;
pub mod ops;
pub mod passwords;
pub mod payments;
pub mod pictures;
pub mod server;
pub mod services;
pub mod state;
pub mod storage;
pub mod web;

pub use app::Application;

/// The release this build is, as every response's X-App-Version header names it. The
/// rolling-upgrade rehearsal's next release says so, so that its answers can be told apart.
pub const RELEASE: &str = if cfg!(feature = "next-release-rehearsal") {
    concat!(env!("CARGO_PKG_VERSION"), "-next")
} else {
    env!("CARGO_PKG_VERSION")
};
