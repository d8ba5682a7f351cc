//! Products and their variants (colour × size, each with its own stock).

use sqlx::FromRow;

use super::{Db, now_ms, placeholders};
use crate::domain::{Cents, ProductDetails, Slug, VariantDetails, Visibility};
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

/// A product with its variants, as the shop shows it.
#[derive(Debug, Clone)]
pub struct Product {
    pub product: ProductRow,
    pub variants: Vec<VariantRow>,
}

impl Product {
    pub fn in_stock(&self) -> bool {
        self.variants.iter().any(|v| v.stock > 0)
    }

    pub fn price(&self) -> Cents {
        Cents::new(self.product.price_cents)
    }

    pub fn variant(&self, id: i64) -> Option<&VariantRow> {
        self.variants.iter().find(|v| v.id == id)
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

const PRODUCT_COLUMNS: &str =
    "id, slug, name, description, category, price_cents, image_key, hidden, sort_order";
const VARIANT_COLUMNS: &str = "v.id, v.product_id, v.color, v.size, \
     COALESCE(v.price_cents, p.price_cents) AS price_cents, v.price_cents AS own_price_cents, \
     v.stock, v.hidden";

impl Db {
    /// Every product with its variants, in shop order: two queries, whatever the count.
    pub async fn list_products(&self, include_hidden: bool) -> AppResult<Vec<Product>> {
        let sql = if include_hidden {
            format!("SELECT {PRODUCT_COLUMNS} FROM products ORDER BY sort_order, name")
        } else {
            format!(
                "SELECT {PRODUCT_COLUMNS} FROM products WHERE hidden = 0 ORDER BY sort_order, name"
            )
        };
        let products = self
            .query_as::<ProductRow>(&sql)
            .fetch_all(self.pool())
            .await?;
        self.with_variants(products, include_hidden).await
    }

    pub async fn product_by_id(&self, id: i64, include_hidden: bool) -> AppResult<Option<Product>> {
        let row = self
            .query_as::<ProductRow>(&format!(
                "SELECT {PRODUCT_COLUMNS} FROM products WHERE id = ?"
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
        let hidden_clause = if include_hidden {
            ""
        } else {
            " AND v.hidden = 0"
        };
        let sql = format!(
            "SELECT {VARIANT_COLUMNS} FROM variants v JOIN products p ON p.id = v.product_id \
             WHERE v.product_id IN ({}){hidden_clause} ORDER BY v.product_id, v.id",
            placeholders(products.len())
        );
        let mut query = self.query_as::<VariantRow>(&sql);
        for product in &products {
            query = query.bind(product.id);
        }
        let mut variants = query.fetch_all(self.pool()).await?;
        Ok(products
            .into_iter()
            .map(|product| {
                let (mine, rest): (Vec<_>, Vec<_>) =
                    variants.drain(..).partition(|v| v.product_id == product.id);
                variants = rest;
                Product {
                    product,
                    variants: mine,
                }
            })
            .collect())
    }

    pub async fn variant_by_id(&self, id: i64) -> AppResult<Option<VariantRow>> {
        Ok(self
            .query_as(&format!(
                "SELECT {VARIANT_COLUMNS} FROM variants v JOIN products p ON p.id = v.product_id \
                 WHERE v.id = ? AND v.hidden = 0 AND p.hidden = 0"
            ))
            .bind(id)
            .fetch_optional(self.pool())
            .await?)
    }

    // --- staff edits ---

    pub async fn create_product(&self, input: &ProductInput<'_>) -> AppResult<i64> {
        let id = self.next_catalog_id("products").await?;
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
        .map_err(|e| on_unique_violation(e, "A product with that name already exists."))?;
        Ok(id)
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
        if done.rows_affected() == 0 {
            return Err(AppError::not_found("That product"));
        }
        Ok(())
    }

    pub async fn set_product_image(&self, id: i64, key: &str) -> AppResult<()> {
        self.query("UPDATE products SET image_key = ? WHERE id = ?")
            .bind(key)
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    pub async fn create_variant(
        &self,
        product_id: i64,
        input: &VariantInput<'_>,
    ) -> AppResult<i64> {
        let id = self.next_catalog_id("variants").await?;
        self.query(
            "INSERT INTO variants (id, product_id, color, size, price_cents, stock, hidden) \
             VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(id)
        .bind(product_id)
        .bind(input.color)
        .bind(input.size)
        .bind(input.price.map(Cents::get))
        .bind(input.stock)
        .bind(i64::from(input.visibility))
        .execute(self.pool())
        .await
        .map_err(|e| {
            on_unique_violation(
                e,
                "That product already has a variant in that colour and size.",
            )
        })?;
        Ok(id)
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
        if done.rows_affected() == 0 {
            return Err(AppError::not_found("That variant"));
        }
        Ok(())
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

    /// Catalog ids stay small and readable (1, 2, 3 …): staff create products rarely, and a
    /// collision between two instances is retried by the unique key.
    async fn next_catalog_id(&self, table: &'static str) -> AppResult<i64> {
        let sql = match table {
            "products" => "SELECT COALESCE(MAX(id), 0) + 1 FROM products",
            _ => "SELECT COALESCE(MAX(id), 0) + 1 FROM variants",
        };
        let (id,): (i64,) = self.query_as(sql).fetch_one(self.pool()).await?;
        Ok(id)
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
