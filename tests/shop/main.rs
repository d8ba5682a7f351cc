//! The shop's integration tests, one module per area, in one test binary (so the suite
//! compiles and links once). Each test starts the real application on a random port with
//! its own database, picture store and outbox (see [`common`]) and talks HTTP to it.

mod common;

mod account_pages;
mod admin;
mod api_contract;
mod api_journey;
mod assets;
mod bad_input;
mod card_checkout;
mod card_pages;
mod checkout;
mod connections;
mod credentials;
mod error_pages;
mod fleet_start;
mod guest_checkout;
mod hostile;
mod html_journey;
mod import_flask;
mod insights;
mod ops;
mod orders_pages;
mod password_reset;
mod passwords;
mod payments;
mod pictures;
mod pricing;
mod product_page;
mod resilience;
mod round_trips;
mod schema_evolution;
mod shop_list;
mod storefront;
