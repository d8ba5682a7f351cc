//! The catalog as shoppers see it, served from memory.
//!
//! The visible catalog is small and read on nearly every page, so each instance keeps a
//! snapshot for a short time (one second by default) instead of asking the database on
//! every request. Writes made through this instance drop the snapshot at once; other
//! instances see them within the time to live. Stock shown may thus lag by that much,
//! never what is sold: checkout always takes stock in the database.
//!
//! While the database is away (a failover takes a minute or two), the last good snapshot
//! keeps being served past its time to live. An answer built from such a snapshot says so:
//! [`watch_staleness`] runs a request and tells the HTTP layer how old the catalog it
//! served was, which it sends as the `X-Catalog-Stale` header and counts.

use std::cell::Cell;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::Services;
use crate::db::Db;
use crate::db::catalog::Product;
use crate::error::{AppError, AppResult};
use crate::events::{Event, EventKind};

/// Which products a list shows, the same for the pages and the API.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct CatalogFilter {
    pub category: Option<String>,
    /// Text that must appear in the name or description, ignoring case.
    pub search: Option<String>,
}

/// The visible products, in shop order, with their categories.
pub struct Catalog {
    pub products: Vec<Product>,
    pub categories: Vec<String>,
}

impl CatalogFilter {
    /// Longer searches are cut to this many characters, whichever door they came through.
    pub const MAX_SEARCH_CHARS: usize = 100;

    /// From what the visitor asked for: blanks mean "any"; the search is trimmed and cut
    /// to [`Self::MAX_SEARCH_CHARS`].
    pub fn new(category: Option<&str>, search: Option<&str>) -> Self {
        let search = search
            .map(|s| {
                s.trim()
                    .chars()
                    .take(Self::MAX_SEARCH_CHARS)
                    .collect::<String>()
            })
            .filter(|s| !s.is_empty());
        Self {
            category: category.filter(|c| !c.is_empty()).map(str::to_owned),
            search,
        }
    }
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

    pub fn filter(&self, filter: &CatalogFilter) -> Vec<&Product> {
        let search = filter.search.as_deref().map(str::to_lowercase);
        self.products
            .iter()
            .filter(|p| {
                filter
                    .category
                    .as_deref()
                    .is_none_or(|c| p.product.category == c)
            })
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

struct Snapshot {
    catalog: Arc<Catalog>,
    /// When it was read from the database.
    loaded: Instant,
    /// When it was loaded, or last found to be the best there is.
    since: Instant,
    /// A write through this instance changed the catalog since.
    outdated: bool,
}

tokio::task_local! {
    /// The age of the oldest past-its-time catalog the current request was served, when it
    /// runs inside [`watch_staleness`].
    static STALE_AGE: Cell<Option<Duration>>;
}

/// Runs `request`, and says how old the catalog was if it was served one past its time to
/// live (the database did not answer when it was due to be reloaded).
pub async fn watch_staleness<F: Future>(request: F) -> (F::Output, Option<Duration>) {
    STALE_AGE
        .scope(Cell::new(None), async {
            let output = request.await;
            (output, STALE_AGE.with(Cell::get))
        })
        .await
}

/// Notes on the current request that its catalog is `age` old.
fn note_stale(age: Duration) {
    // Outside watch_staleness (a background task, a test) there is nobody to tell.
    let _ = STALE_AGE.try_with(|stale| stale.set(stale.get().max(Some(age))));
}

/// The snapshot as it was, and when it was read from the database.
struct Last {
    catalog: Arc<Catalog>,
    loaded: Instant,
}

pub struct CatalogCache {
    ttl: Duration,
    snapshot: Mutex<Option<Snapshot>>,
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

    /// The catalog snapshot, reloaded when it is older than the time to live.
    ///
    /// While the database is away, the last good snapshot keeps being served (logged and
    /// counted as stale): one request per time to live tries the database, and everyone
    /// else is answered at once instead of queueing for the pool.
    pub async fn get(&self, db: &Db) -> AppResult<Arc<Catalog>> {
        if let Some(catalog) = self.fresh() {
            return Ok(catalog);
        }
        let last = self.last();
        let _reload = match (self.reloading.try_lock(), &last) {
            (Ok(reload), _) => reload,
            // Someone else is reloading; what we have will do until they are done.
            (Err(_), Some(last)) => return Ok(self.served(last)),
            (Err(_), None) => self.reloading.lock().await,
        };
        if let Some(catalog) = self.fresh() {
            return Ok(catalog);
        }
        match db.list_products(false).await {
            Ok(products) => {
                let catalog = Arc::new(Catalog::new(products));
                if !self.ttl.is_zero() {
                    self.keep(catalog.clone());
                }
                Ok(catalog)
            }
            Err(error @ AppError::Unavailable(_)) => match last {
                Some(last) => {
                    tracing::warn!(%error, "database unavailable: serving the last catalog snapshot");
                    metrics::counter!("catalog_stale_served_total").increment(1);
                    // Served as if fresh for one more time to live: the next try waits that long.
                    self.keep_checked(&last.catalog);
                    Ok(self.served(&last))
                }
                None => Err(error),
            },
            Err(error) => Err(error),
        }
    }

    /// Marks the snapshot out of date after a write through this instance: the next
    /// request reloads it (and falls back to it only if the database is away).
    pub fn invalidate(&self) {
        if let Some(snapshot) = self.lock().as_mut() {
            snapshot.outdated = true;
        }
    }

    fn keep(&self, catalog: Arc<Catalog>) {
        let now = Instant::now();
        *self.lock() = Some(Snapshot {
            catalog,
            loaded: now,
            since: now,
            outdated: false,
        });
    }

    /// The database was tried and `catalog` is still the best there is: the next try waits
    /// one time to live, unless a newer snapshot came meanwhile.
    fn keep_checked(&self, catalog: &Arc<Catalog>) {
        if let Some(snapshot) = self.lock().as_mut()
            && Arc::ptr_eq(&snapshot.catalog, catalog)
        {
            snapshot.since = Instant::now();
            snapshot.outdated = false;
        }
    }

    fn last(&self) -> Option<Last> {
        self.lock().as_ref().map(|s| Last {
            catalog: s.catalog.clone(),
            loaded: s.loaded,
        })
    }

    fn fresh(&self) -> Option<Arc<Catalog>> {
        let snapshot = self.lock();
        match &*snapshot {
            Some(s) if !s.outdated && s.since.elapsed() < self.ttl => {
                let last = Last {
                    catalog: s.catalog.clone(),
                    loaded: s.loaded,
                };
                drop(snapshot);
                Some(self.served(&last))
            }
            _ => None,
        }
    }

    /// The catalog of `last`, noted on the request as stale when it is past its time to live.
    fn served(&self, last: &Last) -> Arc<Catalog> {
        let age = last.loaded.elapsed();
        if age >= self.ttl {
            note_stale(age);
        }
        last.catalog.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Snapshot>> {
        // A panic while holding this lock cannot leave the snapshot half-written.
        self.snapshot
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The catalog as shoppers see it: a snapshot shared by the requests of the next moment
/// (see [`CatalogCache`]).
pub async fn snapshot(services: &Services) -> AppResult<Arc<Catalog>> {
    services.catalog.get(&services.db).await
}

/// How a shopper names a product: the API by id, the pages by slug.
pub enum ProductRef<'a> {
    Id(i64),
    Slug(&'a str),
}

/// A visible product, counted as a view (by `viewer`, when signed in) for the insights.
pub async fn view_product(
    services: &Services,
    which: ProductRef<'_>,
    viewer: Option<i64>,
) -> AppResult<Product> {
    let catalog = snapshot(services).await?;
    let product = match which {
        ProductRef::Id(id) => catalog.by_id(id),
        ProductRef::Slug(slug) => catalog.by_slug(slug),
    }
    .cloned()
    .ok_or_else(|| AppError::not_found("That product"))?;
    services.record(
        Event::new(EventKind::ProductView)
            .user(viewer)
            .product(product.product.id),
    );
    Ok(product)
}

#[cfg(test)]
mod tests {
    use super::CatalogFilter;

    #[test]
    fn a_filter_ignores_blanks_and_caps_the_search() {
        assert_eq!(
            CatalogFilter::new(Some(""), Some("   ")),
            CatalogFilter::default()
        );
        let long = "x".repeat(500);
        let filter = CatalogFilter::new(Some("mugs"), Some(&format!("  {long}  ")));
        assert_eq!(filter.category.as_deref(), Some("mugs"));
        assert_eq!(
            filter.search.map(|s| s.chars().count()),
            Some(CatalogFilter::MAX_SEARCH_CHARS)
        );
    }
}
