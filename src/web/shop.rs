//! The shop: the catalog with categories, search, sort, a price filter and pages, and
//! product pages. Everything is a plain GET form or link, so it works without JavaScript.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;

use super::forms::RefusedQuantity;
use super::{Layout, PageResult, render_with_status};
use crate::auth::{Browsing, Visitor};
use crate::db::catalog::Product;
use crate::domain::FieldErrors;
use crate::services::catalog::{self, CatalogFilter, Page, ProductRef, Sort};
use crate::state::AppState;

/// The shop list's address, as its forms and links write it; every field as typed.
#[derive(Debug, Default, Clone, serde::Deserialize)]
pub struct ShopQuery {
    #[serde(default)]
    category: String,
    #[serde(default)]
    q: String,
    #[serde(default)]
    sort: String,
    #[serde(default)]
    min_price: String,
    #[serde(default)]
    max_price: String,
    #[serde(default)]
    page: String,
}

impl ShopQuery {
    /// The address of the list with these choices, on page `page` (the first page has no
    /// number); blank fields are left out.
    fn href(&self, page: usize) -> String {
        let page = if page > 1 {
            page.to_string()
        } else {
            String::new()
        };
        let pairs = [
            ("category", self.category.as_str()),
            ("q", self.q.as_str()),
            ("sort", self.sort.as_str()),
            ("min_price", self.min_price.as_str()),
            ("max_price", self.max_price.as_str()),
            ("page", page.as_str()),
        ];
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        for (name, value) in pairs.iter().filter(|(_, value)| !value.is_empty()) {
            query.append_pair(name, value);
        }
        match query.finish() {
            query if query.is_empty() => "/shop".to_owned(),
            query => format!("/shop?{query}"),
        }
    }
}

#[derive(Template)]
#[template(path = "shop.html")]
struct ShopPage {
    layout: Layout,
    /// The products of this page.
    products: Vec<Product>,
    categories: Vec<String>,
    /// What the visitor asked for, as typed, to fill the forms again.
    query: ShopQuery,
    sort: Sort,
    page: Page,
    errors: FieldErrors,
}

impl ShopPage {
    fn sorts(&self) -> Vec<(&'static str, &'static str)> {
        Sort::ALL
            .iter()
            .map(|sort| (sort.as_str(), sort.label(!self.query.q.trim().is_empty())))
            .collect()
    }

    fn category_href(&self, category: &str) -> String {
        ShopQuery {
            category: category.to_owned(),
            page: String::new(),
            ..self.query.clone()
        }
        .href(1)
    }

    fn without_search_href(&self) -> String {
        ShopQuery {
            q: String::new(),
            page: String::new(),
            ..self.query.clone()
        }
        .href(1)
    }

    fn page_href(&self, page: usize) -> String {
        self.query.href(page)
    }

    /// The page numbers to link to: every page, as a shop's catalog has few.
    fn page_numbers(&self) -> std::ops::RangeInclusive<usize> {
        1..=self.page.count
    }

    /// "5 products", "Showing 13–24 of 30 products", with what was searched for.
    fn result_count(&self) -> String {
        let total = self.page.total;
        let noun = if total == 1 { "product" } else { "products" };
        let (first, last) = self.page.shown();
        let counted = if self.page.count > 1 {
            format!("Showing {first}–{last} of {total} {noun}")
        } else {
            format!("{total} {noun}")
        };
        match self.query.q.trim() {
            "" => counted,
            search => format!("{counted} for “{search}”"),
        }
    }
}

pub async fn list(
    State(state): State<AppState>,
    Browsing(visitor): Browsing,
    Query(query): Query<ShopQuery>,
) -> PageResult<Response> {
    let mut errors = FieldErrors::default();
    let sort = errors
        .check("sort", Sort::parse(Some(&query.sort)))
        .unwrap_or_default();
    let page_number = errors
        .check("page", Page::parse_number(Some(&query.page)))
        .unwrap_or(1);
    let filter = CatalogFilter {
        sort,
        ..CatalogFilter::new(Some(&query.category), Some(&query.q))
    }
    .priced_between(Some(&query.min_price), Some(&query.max_price), &mut errors);
    let catalog = catalog::snapshot(&state.services).await?;
    let found = catalog.filter(&filter);
    let page = Page::of(page_number, state.config.shop_page_size, found.len());
    let products = page.slice(&found).iter().map(|p| (*p).clone()).collect();
    let mut layout = Layout::load(&state, &visitor, "Shop", "shop").await?;
    layout.search = filter.search.clone().unwrap_or_default();
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    Ok(render_with_status(
        status,
        &ShopPage {
            layout,
            products,
            categories: catalog.categories.clone(),
            query,
            sort,
            page,
            errors,
        },
    ))
}

#[derive(Template)]
#[template(path = "product.html")]
struct ProductPage {
    layout: Layout,
    product: Product,
    /// The variant chosen: the one asked for, else the first one in stock.
    chosen_variant: i64,
    /// The quantity in the form: 1, or what was typed.
    quantity: String,
    /// Why adding to the cart was refused.
    error: Option<String>,
}

pub async fn product(
    State(state): State<AppState>,
    Browsing(visitor): Browsing,
    Path(slug): Path<String>,
) -> PageResult<Response> {
    let product = catalog::view_product(
        &state.services,
        ProductRef::Slug(&slug),
        visitor.user().map(|u| u.id),
    )
    .await?;
    product_page(&state, &visitor, product, None, StatusCode::OK).await
}

/// The product page; with `refused`, the add-to-cart form as it was sent and why it was
/// refused, answered with `status`.
pub async fn product_page(
    state: &AppState,
    visitor: &Visitor,
    product: Product,
    refused: Option<RefusedQuantity>,
    status: StatusCode,
) -> PageResult<Response> {
    let first_in_stock = product
        .variants
        .iter()
        .find(|v| v.stock > 0)
        .map_or(0, |v| v.id);
    let (chosen_variant, quantity, error) = match refused {
        Some(refused) => (refused.variant_id, refused.typed, Some(refused.message)),
        None => (first_in_stock, "1".to_owned(), None),
    };
    let page = ProductPage {
        layout: Layout::load(state, visitor, product.product.name.clone(), "shop").await?,
        product,
        chosen_variant,
        quantity,
        error,
    };
    Ok(render_with_status(status, &page))
}
