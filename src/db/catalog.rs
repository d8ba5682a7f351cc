//! Products and their variants (colour × size, each with its own stock).

use std::time::Duration;

use backon::Retryable;
use const_format::concatcp;
use sqlx::FromRow;

use super::{Backend, Db, Sql, now_ms};
use crate::domain::{Cents, PriceRange, ProductDetails, Slug, VariantDetails, Visibility};
use crate::error::{AppError, AppResult, on_unique_violation};

#[derive(Debug, Clone, FromRow)]
pub struct ProductRow {
    pub id: i64,
    pub slug: String,
    pub name: String,
    pub description: String,
    pub category: String,
    pub price_cents: i64,
    pub image_key: Option<String>,
    #[sqlx(rename = "hidden", try_from = "i64")]
    pub visibility: Visibility,
    pub sort_order: i64,
    /// When it was added, in milliseconds since the epoch (for "newest first").
    pub created_at: i64,
}

#[derive(Debug, Clone, FromRow)]
pub struct VariantRow {
    pub id: i64,
    pub product_id: i64,
    pub color: String,
    pub size: String,
    /// The variant's own price when it has one, else the product's.
    pub price_cents: i64,
    /// The variant's own price, `None` when it follows the product's.
    pub own_price_cents: Option<i64>,
    pub stock: i64,
    #[sqlx(rename = "hidden", try_from = "i64")]
    pub visibility: Visibility,
}

/// The picture staff gave one colour of a product.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct ColorPicture {
    pub product_id: i64,
    pub color: String,
    pub image_key: String,
}

impl ColorPicture {
    pub fn image_url(&self) -> String {
        crate::assets::image_url(Some(&self.image_key))
    }
}

/// A product with its variants and its colours' pictures, as the shop shows it.
#[derive(Debug, Clone)]
pub struct Product {
    pub product: ProductRow,
    pub variants: Vec<VariantRow>,
    /// At most one per colour, in the order of the colours' names.
    pub color_pictures: Vec<ColorPicture>,
}

impl Product {
    pub fn in_stock(&self) -> bool {
        self.variants.iter().any(|v| v.stock > 0)
    }

    pub fn price(&self) -> Cents {
        Cents::new(self.product.price_cents)
    }

    /// What the product costs as shoppers see it: its variants' prices, or its own when it
    /// has no variant (shown by [`PriceRange`]'s one rule for "from").
    pub fn price_range(&self) -> PriceRange {
        PriceRange::of(self.variants.iter().map(VariantRow::price))
            .unwrap_or_else(|| PriceRange::one(self.price()))
    }

    pub fn variant(&self, id: i64) -> Option<&VariantRow> {
        self.variants.iter().find(|v| v.id == id)
    }

    /// The picture of `color`: its own when staff gave it one, else the product's.
    pub fn picture_of(&self, color: &str) -> String {
        self.color_picture(color)
            .map_or_else(|| self.product.image_url(), ColorPicture::image_url)
    }

    /// The picture staff gave `color`, if any.
    pub fn color_picture(&self, color: &str) -> Option<&ColorPicture> {
        self.color_pictures.iter().find(|p| p.color == color)
    }
}

/// A product as written: from the admin form's checked [`ProductDetails`], or as the
/// import makes one.
pub struct ProductInput<'a> {
    pub name: &'a str,
    pub slug: &'a Slug,
    pub description: &'a str,
    pub category: &'a str,
    pub price: Cents,
    pub visibility: Visibility,
}

/// A variant as written: from the admin form's checked [`VariantDetails`], or as the
/// import makes one.
pub struct VariantInput<'a> {
    pub color: &'a str,
    pub size: &'a str,
    pub price: Option<Cents>,
    pub stock: i64,
    pub visibility: Visibility,
}

impl<'a> From<&'a ProductDetails> for ProductInput<'a> {
    fn from(product: &'a ProductDetails) -> Self {
        Self {
            name: product.name(),
            slug: product.slug(),
            description: product.description(),
            category: product.category(),
            price: product.price(),
            visibility: product.visibility(),
        }
    }
}

impl<'a> From<&'a VariantDetails> for VariantInput<'a> {
    fn from(variant: &'a VariantDetails) -> Self {
        Self {
            color: variant.color(),
            size: variant.size(),
            price: variant.price(),
            stock: variant.stock(),
            visibility: variant.visibility(),
        }
    }
}

/// An update that changed no row was about a row that does not exist.
pub(super) fn found(done: sqlx::any::AnyQueryResult, what: &str) -> AppResult<()> {
    if done.rows_affected() == 0 {
        Err(AppError::not_found(what))
    } else {
        Ok(())
    }
}

/// A catalog row to create (see [`Db::insert_with_next_id`]).
enum NewRow<'a> {
    Product(&'a ProductInput<'a>),
    /// A variant of the product with this id.
    Variant(i64, &'a VariantInput<'a>),
}

/// Why one try at creating a catalog row did not make it.
enum Refused {
    /// Another creation took the id first.
    IdTaken,
    Failed(AppError),
}

impl From<sqlx::Error> for Refused {
    fn from(error: sqlx::Error) -> Self {
        Self::Failed(error.into())
    }
}

/// A product of the demo catalog, its picture already stored.
pub struct SeedProduct<'a> {
    pub slug: &'a str,
    pub name: &'a str,
    pub description: &'a str,
    pub category: &'a str,
    pub price_cents: i64,
    pub image_key: Option<String>,
    /// (colour, picture key) for the colours with a picture of their own.
    pub color_images: Vec<(String, String)>,
    pub variants: &'a [SeedVariant],
}

#[derive(Debug, serde::Deserialize)]
pub struct SeedVariant {
    pub color: String,
    pub size: String,
    pub price_cents: Option<i64>,
    pub stock: i64,
}

const PRODUCT_COLUMNS: &str =
    "id, slug, name, description, category, price_cents, image_key, hidden, sort_order, created_at";
const VARIANT_COLUMNS: &str = "v.id, v.product_id, v.color, v.size, \
     COALESCE(v.price_cents, p.price_cents) AS price_cents, v.price_cents AS own_price_cents, \
     v.stock, v.hidden";

impl Db {
    /// Every product with its variants and colour pictures, in shop order: three queries,
    /// whatever the count.
    pub async fn list_products(&self, include_hidden: bool) -> AppResult<Vec<Product>> {
        let sql = if include_hidden {
            concatcp!(
                "SELECT ",
                PRODUCT_COLUMNS,
                " FROM products ORDER BY sort_order, name"
            )
        } else {
            concatcp!(
                "SELECT ",
                PRODUCT_COLUMNS,
                " FROM products WHERE hidden = 0 ORDER BY sort_order, name"
            )
        };
        let products = self
            .query_as::<ProductRow>(sql)
            .fetch_all(self.pool())
            .await?;
        self.with_variants(products, include_hidden).await
    }

    pub async fn product_by_id(&self, id: i64, include_hidden: bool) -> AppResult<Option<Product>> {
        let row = self
            .query_as::<ProductRow>(concatcp!(
                "SELECT ",
                PRODUCT_COLUMNS,
                " FROM products WHERE id = ?"
            ))
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        self.single_with_variants(row, include_hidden).await
    }

    async fn single_with_variants(
        &self,
        row: Option<ProductRow>,
        include_hidden: bool,
    ) -> AppResult<Option<Product>> {
        match row {
            Some(row) if include_hidden || !row.is_hidden() => {
                Ok(self.with_variants(vec![row], include_hidden).await?.pop())
            }
            _ => Ok(None),
        }
    }

    async fn with_variants(
        &self,
        products: Vec<ProductRow>,
        include_hidden: bool,
    ) -> AppResult<Vec<Product>> {
        if products.is_empty() {
            return Ok(Vec::new());
        }
        const HEAD: &str = concatcp!(
            "SELECT ",
            VARIANT_COLUMNS,
            " FROM variants v JOIN products p ON p.id = v.product_id WHERE v.product_id IN ("
        );
        let tail = if include_hidden {
            ") ORDER BY v.product_id, v.id"
        } else {
            ") AND v.hidden = 0 ORDER BY v.product_id, v.id"
        };
        let sql = Sql::repeated(HEAD, "?", products.len(), tail);
        let mut query = self.query_as::<VariantRow>(sql);
        for product in &products {
            query = query.bind(product.id);
        }
        let mut variants = query.fetch_all(self.pool()).await?;
        let sql = Sql::repeated(
            "SELECT product_id, color, image_key FROM color_pictures WHERE product_id IN (",
            "?",
            products.len(),
            ") ORDER BY product_id, color",
        );
        let mut query = self.query_as::<ColorPicture>(sql);
        for product in &products {
            query = query.bind(product.id);
        }
        let mut pictures = query.fetch_all(self.pool()).await?;
        Ok(products
            .into_iter()
            .map(|product| {
                let (mine, rest): (Vec<_>, Vec<_>) =
                    variants.drain(..).partition(|v| v.product_id == product.id);
                variants = rest;
                let (my_pictures, rest): (Vec<_>, Vec<_>) =
                    pictures.drain(..).partition(|p| p.product_id == product.id);
                pictures = rest;
                Product {
                    product,
                    variants: mine,
                    color_pictures: my_pictures,
                }
            })
            .collect())
    }

    pub async fn variant_by_id(&self, id: i64) -> AppResult<Option<VariantRow>> {
        Ok(self
            .query_as(concatcp!(
                "SELECT ",
                VARIANT_COLUMNS,
                " FROM variants v JOIN products p ON p.id = v.product_id \
                 WHERE v.id = ? AND v.hidden = 0 AND p.hidden = 0"
            ))
            .bind(id)
            .fetch_optional(self.pool())
            .await?)
    }

    // --- staff edits ---

    pub async fn create_product(&self, input: &ProductInput<'_>) -> AppResult<i64> {
        self.insert_with_next_id(NewRow::Product(input)).await
    }

    pub async fn update_product(&self, id: i64, input: &ProductInput<'_>) -> AppResult<()> {
        let done = self
            .query(
                "UPDATE products SET slug = ?, name = ?, description = ?, category = ?, price_cents = ?, hidden = ? \
                 WHERE id = ?",
            )
            .bind(input.slug.as_str())
            .bind(input.name)
            .bind(input.description)
            .bind(input.category)
            .bind(input.price.get())
            .bind(i64::from(input.visibility))
            .bind(id)
            .execute(self.pool())
            .await
            .map_err(|e| on_unique_violation(e, "A product with that name already exists."))?;
        found(done, "That product")
    }

    pub async fn set_product_image(&self, id: i64, key: &str) -> AppResult<()> {
        self.query("UPDATE products SET image_key = ? WHERE id = ?")
            .bind(key)
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Gives `color` of the product `id` the picture stored under `key`, replacing the one
    /// it had.
    pub async fn set_color_picture(&self, id: i64, color: &str, key: &str) -> AppResult<()> {
        let sql = match self.backend() {
            Backend::MySql => {
                "INSERT INTO color_pictures (product_id, color, image_key) VALUES (?, ?, ?) \
                 ON DUPLICATE KEY UPDATE image_key = VALUES(image_key)"
            }
            Backend::Sqlite | Backend::Postgres => {
                "INSERT INTO color_pictures (product_id, color, image_key) VALUES (?, ?, ?) \
                 ON CONFLICT (product_id, color) DO UPDATE SET image_key = excluded.image_key"
            }
        };
        self.query(sql)
            .bind(id)
            .bind(color)
            .bind(key)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Takes the picture of `color` of the product `id` away; false when it had none.
    pub async fn remove_color_picture(&self, id: i64, color: &str) -> AppResult<bool> {
        let done = self
            .query("DELETE FROM color_pictures WHERE product_id = ? AND color = ?")
            .bind(id)
            .bind(color)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() > 0)
    }

    pub async fn create_variant(
        &self,
        product_id: i64,
        input: &VariantInput<'_>,
    ) -> AppResult<i64> {
        self.insert_with_next_id(NewRow::Variant(product_id, input))
            .await
    }

    pub async fn update_variant(&self, id: i64, input: &VariantInput<'_>) -> AppResult<()> {
        let done = self
            .query(
                "UPDATE variants SET color = ?, size = ?, price_cents = ?, stock = ?, hidden = ? WHERE id = ?",
            )
            .bind(input.color)
            .bind(input.size)
            .bind(input.price.map(Cents::get))
            .bind(input.stock)
            .bind(i64::from(input.visibility))
            .bind(id)
            .execute(self.pool())
            .await
            .map_err(|e| on_unique_violation(e, "That product already has a variant in that colour and size."))?;
        found(done, "That variant")
    }

    /// Loads the demo catalog into an empty shop in one transaction, numbering products
    /// and variants from 1. Returns false, changing nothing, when another instance loaded
    /// it first.
    pub async fn seed_catalog(&self, products: &[SeedProduct<'_>]) -> AppResult<bool> {
        let mut tx = self.begin_write().await?;
        let mut variant_id = 0;
        for (product_id, product) in (1_i64..).zip(products) {
            let inserted = self
                .query(
                    "INSERT INTO products (id, slug, name, description, category, price_cents, image_key, hidden, sort_order, created_at) \
                     VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?, ?)",
                )
                .bind(product_id)
                .bind(product.slug)
                .bind(product.name)
                .bind(product.description)
                .bind(product.category)
                .bind(product.price_cents)
                .bind(product.image_key.clone())
                .bind(product_id)
                .bind(now_ms())
                .execute(&mut *tx)
                .await;
            if let Err(sqlx::Error::Database(e)) = &inserted
                && e.is_unique_violation()
            {
                return Ok(false);
            }
            inserted?;
            for variant in product.variants {
                variant_id += 1;
                self.query(
                    "INSERT INTO variants (id, product_id, color, size, price_cents, stock, hidden) VALUES (?, ?, ?, ?, ?, ?, 0)",
                )
                .bind(variant_id)
                .bind(product_id)
                .bind(&variant.color)
                .bind(&variant.size)
                .bind(variant.price_cents)
                .bind(variant.stock)
                .execute(&mut *tx)
                .await?;
            }
            for (color, key) in &product.color_images {
                self.query(
                    "INSERT INTO color_pictures (product_id, color, image_key) VALUES (?, ?, ?)",
                )
                .bind(product_id)
                .bind(color)
                .bind(key)
                .execute(&mut *tx)
                .await?;
            }
        }
        tx.commit().await?;
        Ok(true)
    }

    /// The product a variant belongs to.
    pub async fn product_of_variant(&self, variant_id: i64) -> AppResult<Option<i64>> {
        let row: Option<(i64,)> = self
            .query_as("SELECT product_id FROM variants WHERE id = ?")
            .bind(variant_id)
            .fetch_optional(self.pool())
            .await?;
        Ok(row.map(|(id,)| id))
    }

    /// Inserts a catalog row under the next id: catalog ids stay small and readable in
    /// URLs (1, 2, 3 …). Two creations at the same moment may pick the same id; the one
    /// whose insert then breaks the primary key tries again with the next id. An insert
    /// that breaks the row's other unique key (a product's name, a variant's colour and
    /// size) is refused as a conflict.
    async fn insert_with_next_id(&self, row: NewRow<'_>) -> AppResult<i64> {
        (|| self.insert_once(&row))
            .retry(super::backoff(8, Duration::from_millis(2)))
            .when(|refused| matches!(refused, Refused::IdTaken))
            .await
            .map_err(|refused| match refused {
                Refused::IdTaken => AppError::Unavailable(
                    "The catalog is being changed from several places at once; try again.".into(),
                ),
                Refused::Failed(error) => error,
            })
    }

    async fn insert_once(&self, row: &NewRow<'_>) -> Result<i64, Refused> {
        let next_id = match row {
            NewRow::Product(_) => "SELECT COALESCE(MAX(id), 0) + 1 FROM products",
            NewRow::Variant(..) => "SELECT COALESCE(MAX(id), 0) + 1 FROM variants",
        };
        let (id,): (i64,) = self.query_as(next_id).fetch_one(self.pool()).await?;
        let inserted = match row {
            NewRow::Product(input) => {
                self.query(
                    "INSERT INTO products (id, slug, name, description, category, price_cents, hidden, sort_order, created_at) \
                     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                )
                .bind(id)
                .bind(input.slug.as_str())
                .bind(input.name)
                .bind(input.description)
                .bind(input.category)
                .bind(input.price.get())
                .bind(i64::from(input.visibility))
                .bind(id)
                .bind(now_ms())
                .execute(self.pool())
                .await
            }
            NewRow::Variant(product_id, input) => {
                self.query(
                    "INSERT INTO variants (id, product_id, color, size, price_cents, stock, hidden) \
                     VALUES (?, ?, ?, ?, ?, ?, ?)",
                )
                .bind(id)
                .bind(*product_id)
                .bind(input.color)
                .bind(input.size)
                .bind(input.price.map(Cents::get))
                .bind(input.stock)
                .bind(i64::from(input.visibility))
                .execute(self.pool())
                .await
            }
        };
        match inserted {
            Ok(_) => Ok(id),
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                let (clash, taken) = match row {
                    NewRow::Product(input) => (
                        self.query("SELECT 1 FROM products WHERE slug = ?")
                            .bind(input.slug.as_str()),
                        "A product with that name already exists.",
                    ),
                    NewRow::Variant(product_id, input) => (
                        self.query(
                            "SELECT 1 FROM variants WHERE product_id = ? AND color = ? AND size = ?",
                        )
                        .bind(*product_id)
                        .bind(input.color)
                        .bind(input.size),
                        "That product already has a variant in that colour and size.",
                    ),
                };
                if clash.fetch_optional(self.pool()).await?.is_some() {
                    Err(Refused::Failed(AppError::Conflict(taken.into())))
                } else {
                    Err(Refused::IdTaken)
                }
            }
            Err(other) => Err(other.into()),
        }
    }

    pub async fn product_count(&self) -> AppResult<i64> {
        let (count,): (i64,) = self
            .query_as("SELECT COUNT(*) FROM products")
            .fetch_one(self.pool())
            .await?;
        Ok(count)
    }
}

impl ProductRow {
    pub fn image_url(&self) -> String {
        crate::assets::image_url(self.image_key.as_deref())
    }

    pub fn price(&self) -> Cents {
        Cents::new(self.price_cents)
    }

    pub fn is_hidden(&self) -> bool {
        self.visibility.is_hidden()
    }
}

impl VariantRow {
    pub fn price(&self) -> Cents {
        Cents::new(self.price_cents)
    }

    pub fn own_price_text(&self) -> String {
        self.own_price_cents
            .map(|cents| Cents::new(cents).form_value())
            .unwrap_or_default()
    }

    pub fn is_hidden(&self) -> bool {
        self.visibility.is_hidden()
    }
}

impl Product {
    pub fn total_stock(&self) -> i64 {
        self.variants.iter().map(|v| v.stock).sum()
    }
}
