//! The shop: the catalog with categories and search, and product pages.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::Response;

use super::{Layout, PageResult, render};
use crate::auth::Visitor;
use crate::db::catalog::Product;
use crate::services::catalog::{self, CatalogFilter, ProductRef};
use crate::state::AppState;

#[derive(serde::Deserialize)]
pub struct ShopQuery {
    category: Option<String>,
    q: Option<String>,
}

#[derive(Template)]
#[template(path = "shop.html")]
struct ShopPage {
    layout: Layout,
    products: Vec<Product>,
    categories: Vec<String>,
    category: String,
    search: String,
}

pub async fn list(
    State(state): State<AppState>,
    visitor: Visitor,
    Query(query): Query<ShopQuery>,
) -> PageResult<Response> {
    let filter = CatalogFilter::new(query.category.as_deref(), query.q.as_deref());
    let catalog = catalog::snapshot(&state.services).await?;
    let products = catalog.filter(&filter).into_iter().cloned().collect();
    let categories = catalog.categories.clone();
    Ok(render(&ShopPage {
        layout: Layout::load(&state, &visitor, "Shop", "shop").await?,
        products,
        categories,
        category: filter.category.unwrap_or_default(),
        search: filter.search.unwrap_or_default(),
    }))
}

#[derive(Template)]
#[template(path = "product.html")]
struct ProductPage {
    layout: Layout,
    product: Product,
    /// The variant picked first: the first one in stock.
    default_variant: i64,
}

pub async fn product(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(slug): Path<String>,
) -> PageResult<Response> {
    let product = catalog::view_product(
        &state.services,
        ProductRef::Slug(&slug),
        visitor.user().map(|u| u.id),
    )
    .await?;
    let default_variant = product
        .variants
        .iter()
        .find(|v| v.stock > 0)
        .map_or(0, |v| v.id);
    Ok(render(&ProductPage {
        layout: Layout::load(&state, &visitor, product.product.name.clone(), "shop").await?,
        product,
        default_variant,
    }))
}
