//! Paying a card order in the browser. The pay page loads Stripe.js (its policy lets it in,
//! no other page's does), which turns the card into a token in the shopper's browser: the
//! card number never reaches us. The page posts the token's card here, and the server
//! itself confirms the order's PaymentIntent; a card that asks for 3-D Secure comes back
//! for Stripe.js to finish, and the page then asks us to check with the provider.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;

use super::cart::EmptyForm;
use super::orders::OrderVisitor;
use super::{CsrfForm, Flash, Layout, PageResult, redirect_with, render_with_status};
use crate::db::orders::Order;
use crate::domain::OrderStatus;
use crate::domain::checkout::PaymentMethod;
use crate::payments::PaymentMethodId;
use crate::services::payments::{self, CardForm, PayOutcome};
use crate::services::shop;
use crate::state::AppState;

#[derive(Template)]
#[template(path = "pay.html")]
struct PayPage {
    layout: Layout,
    order: Order,
    card: CardForm,
    stage: Stage,
    /// `?key=…` for a guest who came by the mail's link, for the page's links and forms.
    query: String,
    /// The card's problem: the provider's message, or the last attempt's.
    error: Option<String>,
}

/// Where the shopper is in paying.
enum Stage {
    /// Taking a card (again, after `error`).
    Card { error: Option<String> },
    /// Stripe.js finishes 3-D Secure for the PaymentIntent with this client secret.
    Authenticate { client_secret: String },
}

impl PayPage {
    /// The stage's name, for the page's script.
    fn stage_name(&self) -> &'static str {
        match self.stage {
            Stage::Card { .. } => "card",
            Stage::Authenticate { .. } => "authenticate",
        }
    }

    fn client_secret(&self) -> &str {
        match &self.stage {
            Stage::Card { .. } => "",
            Stage::Authenticate { client_secret } => client_secret,
        }
    }
}

#[derive(Debug, serde::Deserialize)]
pub struct PayForm {
    #[serde(default)]
    payment_method: String,
}

/// The order with the card form, when it awaits a card payment; else the order's own page
/// to go to (paid, on delivery, or a shop that takes no cards).
async fn payable(
    state: &AppState,
    who: &OrderVisitor,
    code: &str,
) -> PageResult<Result<(Order, CardForm), Response>> {
    let order = shop::order_for(&state.services, who.viewer(), code).await?;
    let awaits_card = order.order.status == OrderStatus::AwaitingPayment
        && order.order.payment_method == PaymentMethod::Stripe;
    Ok(match state.services.card_form().filter(|_| awaits_card) {
        Some(card) => Ok((order, card)),
        None => Err(Redirect::to(&who.order_page(&order)).into_response()),
    })
}

async fn pay_page(
    state: &AppState,
    who: &OrderVisitor,
    order: Order,
    card: CardForm,
    status: StatusCode,
    stage: Stage,
) -> PageResult<Response> {
    let title = format!("Pay order {}", order.order.code);
    let policy = super::csp::policy(&state.config.asset_base_url, Some(&card));
    let error = match &stage {
        Stage::Card { error } => error.clone().or_else(|| order.order.payment_error.clone()),
        Stage::Authenticate { .. } => None,
    };
    let page = PayPage {
        layout: Layout::load(state, &who.visitor, title, "orders").await?,
        order,
        card,
        stage,
        query: who.query(),
        error,
    };
    let mut response = render_with_status(status, &page);
    response
        .headers_mut()
        .insert(header::CONTENT_SECURITY_POLICY, policy);
    Ok(response)
}

pub async fn show(
    State(state): State<AppState>,
    who: OrderVisitor,
    Path(code): Path<String>,
) -> PageResult<Response> {
    let (order, card) = match payable(&state, &who, &code).await? {
        Ok(payable) => payable,
        Err(elsewhere) => return Ok(elsewhere),
    };
    let stage = Stage::Card { error: None };
    pay_page(&state, &who, order, card, StatusCode::OK, stage).await
}

pub async fn pay(
    State(state): State<AppState>,
    who: OrderVisitor,
    jar: CookieJar,
    Path(code): Path<String>,
    CsrfForm(form): CsrfForm<PayForm>,
) -> PageResult<Response> {
    let (order, card) = match payable(&state, &who, &code).await? {
        Ok(payable) => payable,
        Err(elsewhere) => return Ok(elsewhere),
    };
    let Some(method) = PaymentMethodId::parse(form.payment_method.trim()) else {
        let why = "Your card details did not come through. Enter the card again.";
        let stage = Stage::Card {
            error: Some(why.into()),
        };
        let status = StatusCode::UNPROCESSABLE_ENTITY;
        return pay_page(&state, &who, order, card, status, stage).await;
    };
    match payments::pay(&state.services, &order, &method).await? {
        PayOutcome::Paid => Ok(redirect_with(
            jar,
            &who.order_page(&order),
            Flash::OrderPaid,
        )),
        PayOutcome::Authenticate { client_secret } => {
            let stage = Stage::Authenticate { client_secret };
            pay_page(&state, &who, order, card, StatusCode::OK, stage).await
        }
        PayOutcome::Declined(why) => {
            let stage = Stage::Card { error: Some(why) };
            let status = StatusCode::PAYMENT_REQUIRED;
            pay_page(&state, &who, order, card, status, stage).await
        }
    }
}

/// After Stripe.js finished 3-D Secure: ask the provider, then show the order if paid or
/// the pay page with the card's problem if not.
pub async fn check(
    State(state): State<AppState>,
    who: OrderVisitor,
    jar: CookieJar,
    Path(code): Path<String>,
    CsrfForm(_): CsrfForm<EmptyForm>,
) -> PageResult<Response> {
    let order = shop::order_for(&state.services, who.viewer(), &code).await?;
    payments::check(&state.services, &order).await?;
    let order = shop::order_for(&state.services, who.viewer(), &code).await?;
    if order.order.status == OrderStatus::Paid {
        return Ok(redirect_with(
            jar,
            &who.order_page(&order),
            Flash::OrderPaid,
        ));
    }
    let pay_page = format!("/orders/{}/pay{}", order.order.code, who.query());
    Ok(Redirect::to(&pay_page).into_response())
}
