//! The cart and checkout pages.

use askama::Template;
use axum::extract::{Path, State};
use axum::response::Response;
use axum_extra::extract::CookieJar;

use super::{
    CsrfForm, Flash, Layout, PageResult, Refusal, SignedIn, redirect_with, render,
    render_with_status,
};
use crate::auth::{self, Visitor};
use crate::db::cart::{CartLine, CartOwner, cart_total};
use crate::domain::Cents;
use crate::error::AppError;
use crate::services::shop;
use crate::state::AppState;

#[derive(Template)]
#[template(path = "cart.html")]
struct CartPage {
    layout: Layout,
    lines: Vec<CartLine>,
    total: Cents,
}

pub async fn show(State(state): State<AppState>, visitor: Visitor) -> PageResult<Response> {
    let lines = shop::cart(&state.services, visitor.cart_owner().as_ref()).await?;
    Ok(render(&CartPage {
        layout: Layout::load(&state, &visitor, "Your cart", "cart").await?,
        total: cart_total(&lines),
        lines,
    }))
}

#[derive(serde::Deserialize)]
pub struct AddForm {
    variant_id: i64,
    #[serde(default = "one")]
    quantity: i64,
}

fn one() -> i64 {
    1
}

pub async fn add(
    State(state): State<AppState>,
    visitor: Visitor,
    jar: CookieJar,
    CsrfForm(form): CsrfForm<AddForm>,
) -> PageResult<Response> {
    let added = shop::add_to_cart(
        &state.services,
        visitor.cart_owner(),
        form.variant_id,
        form.quantity,
    )
    .await?;
    let jar = auth::with_guest_session(jar, added.new_guest_token, visitor.secure);
    Ok(redirect_with(jar, "/cart", Flash::AddedToCart))
}

#[derive(serde::Deserialize)]
pub struct QuantityForm {
    quantity: i64,
}

pub async fn update(
    State(state): State<AppState>,
    visitor: Visitor,
    jar: CookieJar,
    Path(variant_id): Path<i64>,
    CsrfForm(form): CsrfForm<QuantityForm>,
) -> PageResult<Response> {
    let owner = visitor
        .cart_owner()
        .ok_or_else(|| AppError::not_found("That item in your cart"))?;
    if form.quantity == 0 {
        shop::remove_from_cart(&state.services, &owner, variant_id).await?;
    } else {
        shop::set_cart_quantity(&state.services, &owner, variant_id, form.quantity).await?;
    }
    Ok(redirect_with(jar, "/cart", Flash::CartUpdated))
}

#[derive(serde::Deserialize)]
pub struct EmptyForm {}

pub async fn remove(
    State(state): State<AppState>,
    visitor: Visitor,
    jar: CookieJar,
    Path(variant_id): Path<i64>,
    CsrfForm(_): CsrfForm<EmptyForm>,
) -> PageResult<Response> {
    let owner = visitor
        .cart_owner()
        .ok_or_else(|| AppError::not_found("That item in your cart"))?;
    shop::remove_from_cart(&state.services, &owner, variant_id).await?;
    Ok(redirect_with(jar, "/cart", Flash::CartUpdated))
}

#[derive(Template)]
#[template(path = "checkout.html")]
struct CheckoutPage {
    layout: Layout,
    lines: Vec<CartLine>,
    total: Cents,
    address: String,
    idempotency_key: String,
    error: Option<String>,
}

pub async fn checkout_form(
    State(state): State<AppState>,
    SignedIn { user, visitor }: SignedIn,
) -> PageResult<Response> {
    let lines = shop::cart(&state.services, Some(&CartOwner::User(user.id))).await?;
    Ok(render(&CheckoutPage {
        layout: Layout::load(&state, &visitor, "Checkout", "cart").await?,
        total: cart_total(&lines),
        lines,
        address: user.address.clone().unwrap_or_default(),
        idempotency_key: crate::domain::token::new_token(),
        error: None,
    }))
}

#[derive(serde::Deserialize)]
pub struct CheckoutForm {
    shipping_address: String,
    idempotency_key: String,
}

pub async fn checkout(
    State(state): State<AppState>,
    SignedIn { user, visitor }: SignedIn,
    jar: CookieJar,
    CsrfForm(form): CsrfForm<CheckoutForm>,
) -> PageResult<Response> {
    let key = Some(form.idempotency_key.as_str()).filter(|k| !k.is_empty());
    match shop::checkout(&state.services, &user, Some(&form.shipping_address), key).await {
        Ok((order, _)) => Ok(redirect_with(
            jar,
            &format!("/orders/{}", order.order.code),
            Flash::OrderPlaced,
        )),
        Err(error) => {
            let refusal = Refusal::of(error)?;
            let lines = shop::cart(&state.services, Some(&CartOwner::User(user.id))).await?;
            let page = CheckoutPage {
                layout: Layout::load(&state, &visitor, "Checkout", "cart").await?,
                total: cart_total(&lines),
                lines,
                address: form.shipping_address,
                idempotency_key: crate::domain::token::new_token(),
                error: refusal.summary(),
            };
            Ok(render_with_status(refusal.status, &page))
        }
    }
}
