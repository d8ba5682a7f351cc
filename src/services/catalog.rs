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
use std::cmp::Reverse;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::Services;
use crate::db::Db;
use crate::db::catalog::Product;
use crate::domain::search::{Field, SearchQuery, SearchText};
use crate::domain::{Cents, FieldErrors};
use crate::error::{AppError, AppResult};
use crate::events::{Event, EventKind};

/// Which products a list shows, and in what order: the same for the pages and the API.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct CatalogFilter {
    pub category: Option<String>,
    /// What the visitor searched for, as typed (see [`crate::domain::search`]).
    pub search: Option<String>,
    /// Only products with a price at least this…
    pub min_price: Option<Cents>,
    /// …and at most this.
    pub max_price: Option<Cents>,
    pub sort: Sort,
}

/// The orders a product list can be shown in.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub enum Sort {
    /// Best matches first when searching, else the shop's own order.
    #[default]
    Relevance,
    /// By the lowest price asked ("from"), cheapest first.
    PriceLow,
    PriceHigh,
    Name,
    Newest,
}

impl Sort {
    pub const ALL: [Self; 5] = [
        Self::Relevance,
        Self::PriceLow,
        Self::PriceHigh,
        Self::Name,
        Self::Newest,
    ];

    /// The name in addresses: `?sort=price`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Relevance => "relevance",
            Self::PriceLow => "price",
            Self::PriceHigh => "price-desc",
            Self::Name => "name",
            Self::Newest => "newest",
        }
    }

    /// The name in the sort menu; without a search, "relevance" is the shop's own order.
    pub fn label(self, searching: bool) -> &'static str {
        match self {
            Self::Relevance if searching => "Best match",
            Self::Relevance => "Featured",
            Self::PriceLow => "Price: low to high",
            Self::PriceHigh => "Price: high to low",
            Self::Name => "Name",
            Self::Newest => "Newest",
        }
    }

    /// From an address; blank is the default order.
    pub fn parse(raw: Option<&str>) -> Result<Self, String> {
        match raw.map(str::trim).filter(|s| !s.is_empty()) {
            None => Ok(Self::default()),
            Some(raw) => Self::ALL
                .into_iter()
                .find(|sort| sort.as_str() == raw)
                .ok_or_else(|| {
                    let names: Vec<_> = Self::ALL.iter().map(|s| s.as_str()).collect();
                    format!("Sort by one of: {}.", names.join(", "))
                }),
        }
    }
}

/// The visible products, in shop order, with their categories.
pub struct Catalog {
    pub products: Vec<Product>,
    pub categories: Vec<String>,
    /// The words a search can find in each product, in the order of `products`.
    search_texts: Vec<SearchText>,
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
            ..Self::default()
        }
    }

    /// Adds the price bounds typed in dollars ("12", "12.50"; blank for none). A bound
    /// that cannot be read is left out and reported under `min_price` or `max_price`, as
    /// is a highest bound below the lowest.
    pub fn priced_between(
        mut self,
        min: Option<&str>,
        max: Option<&str>,
        errors: &mut FieldErrors,
    ) -> Self {
        self.min_price = errors.check("min_price", dollar_bound(min)).flatten();
        self.max_price = errors.check("max_price", dollar_bound(max)).flatten();
        if let (Some(min), Some(max)) = (self.min_price, self.max_price)
            && min > max
        {
            errors.add(
                "max_price",
                "The highest price must not be below the lowest.",
            );
            self.max_price = None;
        }
        self
    }

    /// Adds the price bounds in cents, as the API takes them; any wrong one refuses all.
    /// A highest bound below the lowest is not an error to a program: no product is priced
    /// between them, so the list is empty.
    pub fn priced_in_cents(mut self, min: Option<i64>, max: Option<i64>) -> AppResult<Self> {
        let mut errors = FieldErrors::default();
        self.min_price = errors
            .check("min_price_cents", min.map(cents_bound).transpose())
            .flatten();
        self.max_price = errors
            .check("max_price_cents", max.map(cents_bound).transpose())
            .flatten();
        if errors.is_empty() {
            Ok(self)
        } else {
            Err(errors.into())
        }
    }

    fn admits_price(&self, product: &Product) -> bool {
        // A product is in range when one of its prices is.
        let prices = product.price_range();
        self.min_price.is_none_or(|min| prices.highest() >= min)
            && self.max_price.is_none_or(|max| prices.lowest() <= max)
    }
}

/// A price bound as typed in dollars: blank is none, else an amount of zero or more.
fn dollar_bound(raw: Option<&str>) -> Result<Option<Cents>, String> {
    match raw.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(raw) => Cents::parse(raw)
            .ok()
            .and_then(|amount| cents_bound(amount.get()).ok())
            .map(Some)
            .ok_or_else(|| "Enter a price such as 12 or 12.50.".into()),
    }
}

/// A price bound in cents: from zero to the highest price there can be.
fn cents_bound(cents: i64) -> Result<Cents, String> {
    if (0..=Cents::MAX.get()).contains(&cents) {
        Ok(Cents::new(cents))
    } else {
        Err(format!(
            "A price bound is from 0 to {} cents.",
            Cents::MAX.get()
        ))
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
        let search_texts = products.iter().map(search_text).collect();
        Self {
            products,
            categories,
            search_texts,
        }
    }

    /// The products `filter` asks for, in its order.
    pub fn filter(&self, filter: &CatalogFilter) -> Vec<&Product> {
        // A search without a single word (only punctuation, say) finds nothing.
        let query = filter.search.as_deref().map(SearchQuery::parse);
        let mut found: Vec<(u32, &Product)> = self
            .products
            .iter()
            .zip(&self.search_texts)
            .filter(|(p, _)| {
                filter
                    .category
                    .as_deref()
                    .is_none_or(|c| p.product.category == c)
            })
            .filter(|(p, _)| filter.admits_price(p))
            .filter_map(|(p, text)| match &query {
                Some(Some(query)) => query.score(text).map(|score| (score, p)),
                Some(None) => None,
                None => Some((0, p)),
            })
            .collect();
        // Sorts are stable: products that tie stay in shop order.
        match filter.sort {
            Sort::Relevance => found.sort_by_key(|(score, _)| Reverse(*score)),
            Sort::PriceLow => found.sort_by_key(|(_, p)| p.price_range().lowest()),
            Sort::PriceHigh => found.sort_by_key(|(_, p)| Reverse(p.price_range().lowest())),
            Sort::Name => found.sort_by_key(|(_, p)| p.product.name.to_lowercase()),
            Sort::Newest => {
                found.sort_by_key(|(_, p)| Reverse((p.product.created_at, p.product.id)))
            }
        }
        found.into_iter().map(|(_, p)| p).collect()
    }

    pub fn by_slug(&self, slug: &str) -> Option<&Product> {
        self.products.iter().find(|p| p.product.slug == slug)
    }

    pub fn by_id(&self, id: i64) -> Option<&Product> {
        self.products.iter().find(|p| p.product.id == id)
    }

    /// "You may also like": at most `most` other products of `product`'s category, those
    /// in stock first, each part in shop order.
    pub fn related(&self, product: &Product, most: usize) -> Vec<&Product> {
        let mut related: Vec<&Product> = self
            .products
            .iter()
            .filter(|p| {
                p.product.category == product.product.category && p.product.id != product.product.id
            })
            .collect();
        // Stable: within "in stock" and "sold out", shop order stays.
        related.sort_by_key(|p| !p.in_stock());
        related.truncate(most);
        related
    }

    /// The product a variant belongs to.
    pub fn by_variant(&self, variant_id: i64) -> Option<&Product> {
        self.products
            .iter()
            .find(|p| p.variants.iter().any(|v| v.id == variant_id))
    }
}

/// What a search can find in a product: its name, category, description, and the
/// colours and sizes of its variants.
fn search_text(product: &Product) -> SearchText {
    let mut text = SearchText::default();
    text.add(Field::Name, &product.product.name);
    text.add(Field::Category, &product.product.category);
    text.add(Field::Description, &product.product.description);
    for variant in &product.variants {
        text.add(Field::Colour, &variant.color);
        text.add(Field::Size, &variant.size);
    }
    text
}

/// One page of a list: which items it shows of how many.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    /// From 1.
    pub number: usize,
    pub count: usize,
    /// Items on the pages before this one.
    pub skipped: usize,
    pub size: usize,
    pub total: usize,
}

impl Page {
    /// Page `number` (from 1) of `total` items shown `size` to a page; a number past the
    /// last page is the last page, so that an old link still shows something.
    pub fn of(number: usize, size: usize, total: usize) -> Self {
        let size = size.max(1);
        let count = total.div_ceil(size).max(1);
        let number = number.clamp(1, count);
        Self {
            number,
            count,
            skipped: (number - 1) * size,
            size,
            total,
        }
    }

    /// A page number from an address: blank is the first page.
    pub fn parse_number(raw: Option<&str>) -> Result<usize, String> {
        match raw.map(str::trim).filter(|s| !s.is_empty()) {
            None => Ok(1),
            Some(raw) => raw
                .parse::<usize>()
                .ok()
                .filter(|n| *n >= 1)
                .ok_or_else(|| "A page number is a whole number from 1.".to_owned()),
        }
    }

    /// The items of this page out of all of them.
    pub fn slice<'a, T>(&self, items: &'a [T]) -> &'a [T] {
        let start = self.skipped.min(items.len());
        let end = (start + self.size).min(items.len());
        &items[start..end]
    }

    /// The first and last item shown, counted from 1 (0 and 0 when there is none).
    pub fn shown(&self) -> (usize, usize) {
        if self.total == 0 {
            (0, 0)
        } else {
            (self.skipped + 1, (self.skipped + self.size).min(self.total))
        }
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
    use super::*;
    use crate::db::catalog::{ProductRow, VariantRow};
    use crate::domain::Visibility;

    /// A product with one variant per (colour, price in cents).
    fn product(id: i64, name: &str, category: &str, variants: &[(&str, i64)]) -> Product {
        Product {
            product: ProductRow {
                id,
                slug: format!("p{id}"),
                name: name.into(),
                description: String::new(),
                category: category.into(),
                price_cents: variants.first().map_or(100, |v| v.1),
                image_key: None,
                visibility: Visibility::Shown,
                sort_order: id,
                created_at: 1000 - id,
            },
            variants: variants
                .iter()
                .zip(1..)
                .map(|((color, price_cents), n)| VariantRow {
                    id: id * 100 + n,
                    product_id: id,
                    color: (*color).into(),
                    size: "U".into(),
                    price_cents: *price_cents,
                    own_price_cents: None,
                    stock: 1,
                    visibility: Visibility::Shown,
                })
                .collect(),
            color_pictures: Vec::new(),
        }
    }

    fn catalog() -> Catalog {
        Catalog::new(vec![
            product(
                1,
                "Radar Mug",
                "Drinkware",
                &[("Black", 1200), ("White", 1500)],
            ),
            product(2, "Espresso Cups", "Drinkware", &[("White", 900)]),
            product(3, "Black Tee", "Apparel", &[("Black", 2000)]),
        ])
    }

    fn names(catalog: &Catalog, filter: &CatalogFilter) -> Vec<String> {
        catalog
            .filter(filter)
            .into_iter()
            .map(|p| p.product.name.clone())
            .collect()
    }

    #[test]
    fn a_search_puts_the_best_matches_first_and_ties_in_shop_order() {
        let catalog = catalog();
        let search = |q: &str| names(&catalog, &CatalogFilter::new(None, Some(q)));
        // The tee has "black" in its name, the mug only as a colour.
        assert_eq!(search("black"), ["Black Tee", "Radar Mug"]);
        assert_eq!(search("white"), ["Radar Mug", "Espresso Cups"]);
        assert_eq!(search("mugs"), ["Radar Mug"]);
        assert!(search("?!").is_empty(), "no words, no products");
    }

    #[test]
    fn sorts_order_by_the_lowest_price_the_name_or_the_newest() {
        let catalog = catalog();
        let sorted = |sort| {
            names(
                &catalog,
                &CatalogFilter {
                    sort,
                    ..CatalogFilter::default()
                },
            )
        };
        assert_eq!(
            sorted(Sort::Relevance),
            ["Radar Mug", "Espresso Cups", "Black Tee"]
        );
        assert_eq!(
            sorted(Sort::PriceLow),
            ["Espresso Cups", "Radar Mug", "Black Tee"]
        );
        assert_eq!(
            sorted(Sort::PriceHigh),
            ["Black Tee", "Radar Mug", "Espresso Cups"]
        );
        assert_eq!(
            sorted(Sort::Name),
            ["Black Tee", "Espresso Cups", "Radar Mug"]
        );
        assert_eq!(
            sorted(Sort::Newest),
            ["Radar Mug", "Espresso Cups", "Black Tee"]
        );
        for sort in Sort::ALL {
            assert_eq!(Sort::parse(Some(sort.as_str())), Ok(sort));
        }
        assert_eq!(Sort::parse(Some(" ")), Ok(Sort::Relevance));
        assert!(
            Sort::parse(Some("cheap"))
                .unwrap_err()
                .contains("price-desc")
        );
    }

    #[test]
    fn a_price_range_keeps_products_with_a_price_inside_it() {
        let catalog = catalog();
        let mut errors = FieldErrors::default();
        let between = CatalogFilter::default().priced_between(Some("13"), Some("20"), &mut errors);
        assert!(errors.is_empty());
        // The mug is in by its $15 variant.
        assert_eq!(names(&catalog, &between), ["Radar Mug", "Black Tee"]);

        let mut errors = FieldErrors::default();
        let filter = CatalogFilter::default().priced_between(Some("-1"), Some("abc"), &mut errors);
        assert_eq!((filter.min_price, filter.max_price), (None, None));
        assert!(errors.get("min_price").is_some() && errors.get("max_price").is_some());

        let mut errors = FieldErrors::default();
        let filter = CatalogFilter::default().priced_between(Some("20"), Some("10"), &mut errors);
        assert_eq!(filter.min_price, Some(Cents::new(2000)));
        assert_eq!(filter.max_price, None);
        assert_eq!(
            errors.get("max_price"),
            Some("The highest price must not be below the lowest.")
        );
        let upside_down = CatalogFilter::default().priced_in_cents(Some(500), Some(100));
        assert!(names(&catalog, &upside_down.unwrap()).is_empty());
        assert!(
            CatalogFilter::default()
                .priced_in_cents(Some(-1), None)
                .is_err()
        );
        assert!(
            CatalogFilter::default()
                .priced_in_cents(Some(0), Some(100))
                .is_ok()
        );
    }

    #[test]
    fn pages_hold_their_size_and_a_number_past_the_end_is_the_last_page() {
        let items: Vec<u32> = (1..=5).collect();
        let first = Page::of(1, 2, items.len());
        assert_eq!(
            (first.count, first.slice(&items), first.shown()),
            (3, &[1, 2][..], (1, 2))
        );
        let last = Page::of(9, 2, items.len());
        assert_eq!(
            (last.number, last.slice(&items), last.shown()),
            (3, &[5][..], (5, 5))
        );
        let empty = Page::of(1, 2, 0);
        assert_eq!((empty.count, empty.shown()), (1, (0, 0)));
        assert!(empty.slice(&[] as &[u32]).is_empty());
        assert_eq!(Page::parse_number(None), Ok(1));
        assert_eq!(Page::parse_number(Some("3")), Ok(3));
        for bad in ["0", "-1", "x", "1.5"] {
            assert!(Page::parse_number(Some(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn related_products_share_the_category_put_those_in_stock_first_and_stop_at_most() {
        let mut products = vec![
            product(1, "Radar Mug", "Drinkware", &[("Black", 1200)]),
            product(2, "Espresso Cups", "Drinkware", &[("White", 900)]),
            product(3, "Black Tee", "Apparel", &[("Black", 2000)]),
            product(4, "Travel Cup", "Drinkware", &[("Gray", 1800)]),
        ];
        products[1].variants[0].stock = 0;
        let catalog = Catalog::new(products);
        let mug = catalog.by_id(1).unwrap();
        let names = |most| -> Vec<_> {
            catalog
                .related(mug, most)
                .iter()
                .map(|p| p.product.name.as_str())
                .collect()
        };
        assert_eq!(names(4), ["Travel Cup", "Espresso Cups"]);
        assert_eq!(names(1), ["Travel Cup"]);
        assert!(names(0).is_empty());
    }

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
