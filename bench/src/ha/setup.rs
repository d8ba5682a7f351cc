//! Before the load: the catalog the shoppers walk, stock that cannot run out (so no checkout
//! fails for want of it), and the shoppers, registered and signed in.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use sqlx::AnyPool;

use super::database;
use super::state::Shared;
use crate::shop::{self, Product};

pub struct Setup {
    pub products: Arc<Vec<Product>>,
    pub pool: AnyPool,
    /// Each variant's stock once raised, to compare with the quantities sold at the end.
    pub initial_stock: HashMap<i64, i64>,
    /// The start of every username of this run: its orders are the ones checked.
    pub prefix: String,
    /// (username, signed-in client), in the order they were ready.
    pub shoppers: Vec<(String, reqwest::Client)>,
}

pub async fn prepare(
    shared: &Shared,
    base: &str,
    database_url: &str,
    users: usize,
) -> anyhow::Result<Setup> {
    let products = Arc::new(shop::catalog(base).await?);
    let pool = shop::database(database_url).await?;
    database::raise_stock(&pool).await?;
    let initial_stock = database::stocks(&pool).await?;
    shared.log(&format!(
        "stock of {} variants set to 100,000",
        initial_stock.len()
    ));
    let prefix = format!("ha{}u", shop::run_id());
    let usernames = (0..users).map(|i| format!("{prefix}{i}")).collect();
    let shoppers = shop::signed_in_shoppers(base, usernames, Duration::from_secs(10)).await?;
    shared.log(&format!(
        "{} shoppers registered and signed in ({prefix}0..)",
        shoppers.len()
    ));
    Ok(Setup {
        products,
        pool,
        initial_stock,
        prefix,
        shoppers,
    })
}
