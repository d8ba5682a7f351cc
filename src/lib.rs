//! Coffee Radar: a coffee shop web store in one stateless binary.
//!
//! Layout: `domain` holds the rules without I/O, `db` the data access, `services` the use
//! cases shared by the HTML pages (`web`) and the JSON API (`api`); `app` wires the router
//! and middleware; `ops` has health, metrics, logs and draining.

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
pub mod pictures;
pub mod server;
pub mod services;
pub mod state;
pub mod storage;
pub mod web;

pub use app::Application;
