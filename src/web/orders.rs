//! Order history and order pages.

use askama::Template;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use axum_extra::extract::CookieJar;

use axum::http::StatusCode;

use super::cart::{EmptyForm, cart_page};
use super::{CsrfForm, Flash, Layout, PageResult, SignedIn, redirect_with, render};
use crate::auth::{self, Visitor};
use crate::db::orders::Order;
use crate::db::{format_ms, iso_ms};
use crate::domain::order::TimelineStep;
use crate::services::shop::{self, OrderViewer};
use crate::services::{accounts, catalog};
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

/// Whoever opens an order's pages: a signed-in shopper, or a guest with the link from the
/// confirmation mail (`?key=…`, which the page's own links and forms carry on) or in the
/// browser that placed the order. Anyone else is asked to sign in.
pub struct OrderVisitor {
    pub visitor: Visitor,
    key: Option<String>,
}

#[derive(serde::Deserialize)]
struct KeyQuery {
    key: Option<String>,
}

impl OrderVisitor {
    /// The link key wins: it opens a guest order even in a browser signed in to an account.
    pub fn viewer(&self) -> OrderViewer<'_> {
        match (&self.key, self.visitor.user(), self.visitor.session_id()) {
            (Some(key), _, _) => OrderViewer::GuestKey(key),
            (None, Some(user), _) => OrderViewer::Account(user),
            (None, None, Some(session)) => OrderViewer::GuestSession(session),
            // Never met: such visitors were sent to sign in; an empty key opens nothing.
            (None, None, None) => OrderViewer::GuestKey(""),
        }
    }

    /// What the order's own links and forms carry to stay open: the key, if it came with one.
    pub fn query(&self) -> String {
        self.key
            .as_deref()
            .map(|key| {
                format!(
                    "?key={}",
                    url::form_urlencoded::byte_serialize(key.as_bytes()).collect::<String>()
                )
            })
            .unwrap_or_default()
    }

    /// The order page's address, for this visitor.
    pub fn order_page(&self, order: &Order) -> String {
        format!("/orders/{}{}", order.order.code, self.query())
    }
}

impl FromRequestParts<AppState> for OrderVisitor {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let visitor = Visitor::from_request_parts(parts, state)
            .await
            .map_err(|e| super::PageError(e).into_response())?;
        let key = Query::<KeyQuery>::try_from_uri(&parts.uri)
            .ok()
            .and_then(|q| q.0.key)
            .filter(|k| !k.is_empty());
        if key.is_none() && visitor.session.is_none() {
            return Err(super::to_sign_in(parts));
        }
        Ok(Self { visitor, key })
    }
}

/// The picture of each line's product (the shop's logo for one no longer shown), in the
/// order of the lines: for the order pages' tables.
pub(crate) async fn line_pictures(state: &AppState, order: &Order) -> PageResult<Vec<String>> {
    let catalog = catalog::snapshot(&state.services).await?;
    Ok(order
        .lines
        .iter()
        .map(|line| match catalog.by_id(line.product_id) {
            Some(product) => product.product.image_url(),
            None => crate::assets::image_url(None),
        })
        .collect())
}

/// A step of the timeline as the page shows it.
struct Step {
    label: &'static str,
    state: &'static str,
    /// When, as a `datetime` attribute and as people read it.
    at: Option<(String, String)>,
}

impl From<TimelineStep> for Step {
    fn from(step: TimelineStep) -> Self {
        Self {
            label: step.status.label(),
            state: step.state.as_str(),
            at: step.at.map(|ms| (iso_ms(ms), format_ms(ms))),
        }
    }
}

#[derive(Template)]
#[template(path = "order.html")]
struct OrderPage {
    layout: Layout,
    order: Order,
    pictures: Vec<String>,
    timeline: Vec<Step>,
    /// `?key=…` for a guest who came by the mail's link, for the page's links and forms.
    query: String,
    /// Whether the order belongs to the signed-in account (which has a list of orders).
    in_account: bool,
}

pub async fn show(
    State(state): State<AppState>,
    who: OrderVisitor,
    Path(code): Path<String>,
) -> PageResult<Response> {
    let order = shop::order_for(&state.services, who.viewer(), &code).await?;
    let timeline = shop::timeline(&state.services, &order).await?;
    let title = format!("Order {}", order.order.code);
    Ok(render(&OrderPage {
        layout: Layout::load(&state, &who.visitor, title, "orders").await?,
        in_account: order.order.user_id.is_some(),
        pictures: line_pictures(&state, &order).await?,
        timeline: timeline.into_iter().map(Step::from).collect(),
        order,
        query: who.query(),
    }))
}

#[derive(Template)]
#[template(path = "cancel_order.html")]
struct CancelPage {
    layout: Layout,
    order: Order,
    pictures: Vec<String>,
    query: String,
}

/// Asks before cancelling: the order's lines and one button that cancels (the order page
/// links here, so no order is cancelled by one stray click, with or without script).
pub async fn confirm_cancel(
    State(state): State<AppState>,
    who: OrderVisitor,
    Path(code): Path<String>,
) -> PageResult<Response> {
    let order = shop::order_for(&state.services, who.viewer(), &code).await?;
    shop::cancellable(&order)?;
    let title = format!("Cancel order {}?", order.order.code);
    Ok(render(&CancelPage {
        layout: Layout::load(&state, &who.visitor, title, "orders").await?,
        pictures: line_pictures(&state, &order).await?,
        order,
        query: who.query(),
    }))
}

/// Puts the order's lines back in the cart and shows the cart, saying what did not go in.
/// The page answers the POST itself: what was left out is told once, and a fixed flash
/// could not say it.
pub async fn buy_again(
    State(state): State<AppState>,
    who: OrderVisitor,
    jar: CookieJar,
    Path(code): Path<String>,
    CsrfForm(_): CsrfForm<EmptyForm>,
) -> PageResult<Response> {
    let owner = who.visitor.cart_owner();
    let bought = shop::buy_again(&state.services, who.viewer(), owner, &code).await?;
    let mut visitor = who.visitor;
    let token = bought.added.new_guest_token;
    if let Some(token) = &token {
        visitor.session = accounts::session(&state.services, token).await?;
    }
    let jar = auth::with_guest_session(&state, jar, token, visitor.secure);
    let cart = cart_page(&state, &visitor, None, bought.left_out, StatusCode::OK).await?;
    Ok((jar, cart).into_response())
}

pub async fn cancel(
    State(state): State<AppState>,
    who: OrderVisitor,
    jar: CookieJar,
    Path(code): Path<String>,
    CsrfForm(_): CsrfForm<EmptyForm>,
) -> PageResult<Response> {
    let order = shop::cancel_order_for(&state.services, who.viewer(), &code).await?;
    Ok(redirect_with(
        jar,
        &who.order_page(&order),
        Flash::OrderCancelled,
    ))
}
