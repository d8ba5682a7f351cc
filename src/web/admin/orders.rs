//! Every order, newest first and filtered by status, with the two changes staff make from
//! the list: moving an order on to its next step, and cancelling it; and one order's own
//! page, with its lines, totals and address, that the list's order codes link to.

use askama::Template;
use axum::extract::{FromRequest, Path, Query, State};
use axum::response::Response;
use axum_extra::extract::CookieJar;

use super::layout;
use crate::db::orders::Order;
use crate::domain::OrderStatus;
use crate::error::AppError;
use crate::services::staff;
use crate::state::AppState;
use crate::web::cart::EmptyForm;
use crate::web::{CsrfForm, Flash, Layout, PageResult, Staff, redirect_with, render};

#[derive(serde::Deserialize)]
pub(super) struct OrdersQuery {
    status: Option<String>,
}

#[derive(Template)]
#[template(path = "admin/orders.html")]
struct OrdersPage {
    layout: Layout,
    orders: Vec<Order>,
    statuses: [OrderStatus; 6],
    /// The status filtered by as the address names it; empty for every order.
    selected: String,
}

pub(super) async fn list(
    State(state): State<AppState>,
    Staff(staff): Staff,
    Query(query): Query<OrdersQuery>,
) -> PageResult<Response> {
    let selected = query.status.unwrap_or_default();
    let orders = staff::orders(&state.services, status_filter(&selected)?).await?;
    Ok(render(&OrdersPage {
        layout: layout(&state, &staff, "Orders").await?,
        orders,
        statuses: OrderStatus::ALL,
        selected,
    }))
}

#[derive(Template)]
#[template(path = "admin/order.html")]
struct OrderPage {
    layout: Layout,
    order: Order,
    pictures: Vec<String>,
}

pub(super) async fn show(
    State(state): State<AppState>,
    Staff(staff): Staff,
    Path(code): Path<String>,
) -> PageResult<Response> {
    let order = staff::order(&state.services, &code).await?;
    Ok(render(&OrderPage {
        layout: layout(&state, &staff, format!("Order {}", order.order.code)).await?,
        pictures: crate::web::orders::line_pictures(&state, &order).await?,
        order,
    }))
}

/// The status the list is filtered by: none for an empty filter, a 400 for a name no status
/// has.
fn status_filter(selected: &str) -> Result<Option<OrderStatus>, AppError> {
    match selected {
        "" => Ok(None),
        name => OrderStatus::parse(name)
            .map(Some)
            .ok_or_else(|| AppError::BadRequest("Unknown order status.".into())),
    }
}

/// A change to one order sent from the list by a staff member, with the list's CSRF token.
/// The fields are extracted in order, as a handler's arguments are: who asks comes first.
#[derive(FromRequest)]
#[from_request(state(AppState))]
pub(super) struct OrderChange {
    state: State<AppState>,
    _staff: Staff,
    code: Path<String>,
    _form: CsrfForm<EmptyForm>,
}

impl OrderChange {
    /// Back to the list, which shows `flash`.
    fn done(flash: Flash) -> Response {
        redirect_with(CookieJar::new(), "/admin/orders", flash)
    }
}

pub(super) async fn advance(change: OrderChange) -> PageResult<Response> {
    staff::advance_order(&change.state.services, &change.code).await?;
    Ok(OrderChange::done(Flash::OrderAdvanced))
}

pub(super) async fn cancel(change: OrderChange) -> PageResult<Response> {
    staff::cancel_order(&change.state.services, &change.code).await?;
    Ok(OrderChange::done(Flash::OrderCancelled))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_filter_lists_every_order_and_a_status_name_its_orders() {
        assert_eq!(status_filter("").unwrap(), None);
        for status in OrderStatus::ALL {
            assert_eq!(status_filter(status.as_str()).unwrap(), Some(status));
        }
    }

    #[test]
    fn a_filter_that_names_no_status_is_a_bad_request() {
        for name in ["shipping", "PAID ", "all"] {
            let error = status_filter(name).unwrap_err();
            assert_eq!(error.public_message(), "Unknown order status.");
            assert_eq!(error.status(), axum::http::StatusCode::BAD_REQUEST);
        }
    }
}
