//! The catalog as shoppers see it, served from memory.
//!
//! The visible catalog is small and read on nearly every page, so each instance keeps a
//! snapshot for a short time (one second by default) instead of asking the database on
//! every request. Writes made through this instance drop the snapshot at once; other
//! instances see them within the time to live. Stock shown may thus lag by that much,
//! never what is sold: checkout always takes stock in the database.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::db::Db;
use crate::db::catalog::Product;
use crate::error::AppResult;

/// Which products a list shows.
#[derive(Debug, Default, Clone)]
pub struct CatalogFilter<'a> {
    pub category: Option<&'a str>,
    /// Words that must appear in the name or description, ignoring case.
    pub search: Option<&'a str>,
}

/// The visible products, in shop order, with their categories.
pub struct Catalog {
    pub products: Vec<Product>,
    pub categories: Vec<String>,
}

impl Catalog {
    fn new(products: Vec<Product>) -> Self {
        let mut categories: Vec<String> = products
            .iter()
            .map(|p| p.product.category.clone())
            .collect();
        categories.sort();
        categories.dedup();
        Self {
            products,
            categories,
        }
    }

    pub fn filter(&self, filter: &CatalogFilter<'_>) -> Vec<&Product> {
        let search = filter.search.map(str::to_lowercase);
        self.products
            .iter()
            .filter(|p| filter.category.is_none_or(|c| p.product.category == c))
            .filter(|p| {
                search.as_deref().is_none_or(|s| {
                    p.product.name.to_lowercase().contains(s)
                        || p.product.description.to_lowercase().contains(s)
                })
            })
            .collect()
    }

    pub fn by_slug(&self, slug: &str) -> Option<&Product> {
        self.products.iter().find(|p| p.product.slug == slug)
    }

    pub fn by_id(&self, id: i64) -> Option<&Product> {
        self.products.iter().find(|p| p.product.id == id)
    }
}

pub struct CatalogCache {
    ttl: Duration,
    snapshot: Mutex<Option<(Instant, Arc<Catalog>)>>,
    /// One reload at a time: requests arriving meanwhile wait for its result.
    reloading: tokio::sync::Mutex<()>,
}

impl CatalogCache {
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            snapshot: Mutex::new(None),
            reloading: tokio::sync::Mutex::new(()),
        }
    }

    pub async fn get(&self, db: &Db) -> AppResult<Arc<Catalog>> {
        if let Some(catalog) = self.fresh() {
            return Ok(catalog);
        }
        let _reload = self.reloading.lock().await;
        if let Some(catalog) = self.fresh() {
            return Ok(catalog);
        }
        let catalog = Arc::new(Catalog::new(db.list_products(false).await?));
        if !self.ttl.is_zero() {
            *self.lock() = Some((Instant::now(), catalog.clone()));
        }
        Ok(catalog)
    }

    /// Drops the snapshot after a write through this instance.
    pub fn invalidate(&self) {
        *self.lock() = None;
    }

    fn fresh(&self) -> Option<Arc<Catalog>> {
        match &*self.lock() {
            Some((loaded, catalog)) if loaded.elapsed() < self.ttl => Some(catalog.clone()),
            _ => None,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<(Instant, Arc<Catalog>)>> {
        // A panic while holding this lock cannot leave the snapshot half-written.
        self.snapshot
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
