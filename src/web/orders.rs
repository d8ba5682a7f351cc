//! Order history and order pages.

use askama::Template;
use axum::extract::{Path, State};
use axum::response::Response;
use axum_extra::extract::CookieJar;

use super::cart::EmptyForm;
use super::{CsrfForm, Flash, Layout, PageResult, SignedIn, redirect_with, render};
use crate::db::orders::Order;
use crate::services::shop;
use crate::state::AppState;

#[derive(Template)]
#[template(path = "orders.html")]
struct OrdersPage {
    layout: Layout,
    orders: Vec<Order>,
}

pub async fn list(
    State(state): State<AppState>,
    SignedIn { user, visitor }: SignedIn,
) -> PageResult<Response> {
    let orders = shop::orders_of(&state.services, &user).await?;
    Ok(render(&OrdersPage {
        layout: Layout::load(&state, &visitor, "Your orders", "orders").await?,
        orders,
    }))
}

#[derive(Template)]
#[template(path = "order.html")]
struct OrderPage {
    layout: Layout,
    order: Order,
}

pub async fn show(
    State(state): State<AppState>,
    SignedIn { user, visitor }: SignedIn,
    Path(code): Path<String>,
) -> PageResult<Response> {
    let order = shop::own_order(&state.services, &user, &code).await?;
    Ok(render(&OrderPage {
        layout: Layout::load(
            &state,
            &visitor,
            format!("Order {}", order.order.code),
            "orders",
        )
        .await?,
        order,
    }))
}

pub async fn cancel(
    State(state): State<AppState>,
    SignedIn { user, .. }: SignedIn,
    jar: CookieJar,
    Path(code): Path<String>,
    CsrfForm(_): CsrfForm<EmptyForm>,
) -> PageResult<Response> {
    let order = shop::cancel_own_order(&state.services, &user, &code).await?;
    Ok(redirect_with(
        jar,
        &format!("/orders/{}", order.order.code),
        Flash::OrderCancelled,
    ))
}
