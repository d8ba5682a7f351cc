//! The shop: the catalog with categories and search, and product pages.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::Response;

use super::{Layout, PageResult, render};
use crate::app::AppState;
use crate::auth::Visitor;
use crate::db::catalog::Product;
use crate::error::AppError;
use crate::events::{Event, EventKind};
use crate::services::catalog::CatalogFilter;

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
    let category = query.category.unwrap_or_default();
    let search: String = query
        .q
        .unwrap_or_default()
        .trim()
        .chars()
        .take(CatalogFilter::MAX_SEARCH_CHARS)
        .collect();
    let filter = CatalogFilter {
        category: Some(category.as_str()).filter(|c| !c.is_empty()),
        search: Some(search.as_str()).filter(|s| !s.is_empty()),
    };
    let catalog = state.catalog.get(&state.db).await?;
    let products = catalog.filter(&filter).into_iter().cloned().collect();
    let categories = catalog.categories.clone();
    Ok(render(&ShopPage {
        layout: Layout::load(&state, &visitor, "Shop", "shop").await?,
        products,
        categories,
        category,
        search,
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
    let product = state
        .catalog
        .get(&state.db)
        .await?
        .by_slug(&slug)
        .cloned()
        .ok_or_else(|| AppError::not_found("That product"))?;
    state.events.record(
        Event::new(EventKind::ProductView)
            .user(visitor.user().map(|u| u.id))
            .product(product.product.id),
    );
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
