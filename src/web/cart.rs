//! The cart and checkout pages.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;

use super::forms::RefusedQuantity;
use super::forms::empty_is_none;
use super::shop::ProductChoice;
use super::{CsrfForm, Flash, Layout, PageResult, Refusal, redirect_with, render_with_status};
use crate::auth::{self, Visitor};
use crate::db::cart::{CartLine, cart_total};
use crate::db::checkout::DeliveryOption;
use crate::db::places::PlaceRow;
use crate::domain::Cents;
use crate::domain::FieldErrors;
use crate::domain::address::{AddressFields, countries};
use crate::domain::checkout::PaymentMethod;
use crate::domain::pricing::Totals;
use crate::error::AppError;
use crate::services::catalog;
use crate::services::checkout::{self, Choice, Estimate, Shopper};
use crate::services::picker;
use crate::services::shop;
use crate::state::AppState;

#[derive(Template)]
#[template(path = "cart.html")]
struct CartPage {
    layout: Layout,
    lines: Vec<CartLine>,
    total: Cents,
    /// What checkout will charge before anything is chosen; none: "calculated at checkout".
    estimate: Option<Estimate>,
    /// A quantity change that was refused: shown on its line, as typed, with the reason.
    refused: Option<RefusedQuantity>,
    /// What "buy again" could not put in the cart, and why.
    left_out: Vec<String>,
}

impl CartPage {
    /// The quantity a line's field holds: what was typed, if it was refused, else the cart's.
    fn quantity_shown(&self, line: &CartLine) -> String {
        match &self.refused {
            Some(refused) if refused.variant_id == line.variant_id => refused.typed.clone(),
            _ => line.quantity.to_string(),
        }
    }

    fn error_for(&self, line: &CartLine) -> Option<&str> {
        self.refused
            .as_ref()
            .filter(|refused| refused.variant_id == line.variant_id)
            .map(|refused| refused.message.as_str())
    }
}

pub(super) async fn cart_page(
    state: &AppState,
    visitor: &Visitor,
    refused: Option<RefusedQuantity>,
    left_out: Vec<String>,
    status: StatusCode,
) -> PageResult<Response> {
    let lines = shop::cart(&state.services, visitor.cart_owner().as_ref()).await?;
    let page = CartPage {
        layout: Layout::load(state, visitor, "Your cart", "cart").await?,
        estimate: checkout::estimate(&state.services, &lines).await?,
        total: cart_total(&lines),
        lines,
        refused,
        left_out,
    };
    Ok(render_with_status(status, &page))
}

pub async fn show(State(state): State<AppState>, visitor: Visitor) -> PageResult<Response> {
    cart_page(&state, &visitor, None, Vec::new(), StatusCode::OK).await
}

/// A quantity as typed in a form: a whole number, or a field error saying so.
fn typed_quantity(typed: &str) -> Result<i64, AppError> {
    typed.trim().parse().map_err(|_| {
        AppError::invalid(
            "quantity",
            "Enter how many you want as a whole number, such as 2.",
        )
    })
}

/// The add-to-cart form: the product page sends the product with a colour and a size;
/// the API's way, a variant's id, is taken too.
#[derive(serde::Deserialize)]
pub struct AddForm {
    #[serde(default, deserialize_with = "empty_is_none")]
    variant_id: Option<i64>,
    #[serde(default, deserialize_with = "empty_is_none")]
    product_id: Option<i64>,
    #[serde(default)]
    color: String,
    #[serde(default)]
    size: String,
    /// As typed: a quantity that is not a number is refused on the product page too.
    #[serde(default = "one")]
    quantity: String,
}

fn one() -> String {
    "1".to_owned()
}

impl AddForm {
    /// The product page as this form was sent, with why it was refused.
    fn refused(&self, size_error: Option<String>, quantity_error: Option<String>) -> ProductChoice {
        ProductChoice {
            color: self.color.chars().take(60).collect(),
            size: self.size.chars().take(30).collect(),
            quantity: self.quantity.chars().take(10).collect(),
            quantity_error,
            size_error,
        }
    }
}

/// Adds to the cart from a product page. The colour and size are looked up in the
/// catalog; a pair that does not exist or is sold out, or a quantity refused (too few in
/// stock, not a number), is shown on that product page, next to the form as it was sent.
pub async fn add(
    State(state): State<AppState>,
    visitor: Visitor,
    jar: CookieJar,
    CsrfForm(mut form): CsrfForm<AddForm>,
) -> PageResult<Response> {
    let catalog = catalog::snapshot(&state.services).await?;
    let (product, chosen) = match (form.variant_id, form.product_id) {
        (Some(id), _) => match catalog.by_variant(id) {
            Some(product) => {
                let variant = product
                    .variant(id)
                    .ok_or_else(|| AppError::not_found("That product variant"))?;
                form.color.clone_from(&variant.color);
                form.size.clone_from(&variant.size);
                (Some(product), picker::in_stock(variant).map(|v| v.id))
            }
            // Not in the snapshot (yet): the cart's own check in the database decides.
            None => (None, Ok(id)),
        },
        (None, Some(id)) => {
            let product = catalog
                .by_id(id)
                .ok_or_else(|| AppError::not_found("That product"))?;
            let pair = picker::find_pair(product, &form.color, &form.size);
            (Some(product), pair.map(|v| v.id))
        }
        (None, None) => {
            return Err(
                AppError::BadRequest("Choose a product, its colour and its size.".into()).into(),
            );
        }
    };
    let variant_id = match chosen {
        Ok(id) => id,
        Err(refused) => {
            let status = if refused.is_conflict() {
                StatusCode::CONFLICT
            } else {
                StatusCode::UNPROCESSABLE_ENTITY
            };
            let choice = form.refused(Some(refused.message()), None);
            let product = product
                .cloned()
                .ok_or_else(|| AppError::not_found("That product"))?;
            return super::shop::product_page(&state, &visitor, product, choice, status).await;
        }
    };
    let added = match typed_quantity(&form.quantity) {
        Ok(quantity) => {
            shop::add_to_cart(&state.services, visitor.cart_owner(), variant_id, quantity).await
        }
        Err(error) => Err(error),
    };
    match added {
        Ok(added) => {
            let jar = auth::with_guest_session(&state, jar, added.new_guest_token, visitor.secure);
            Ok(redirect_with(jar, "/cart", Flash::AddedToCart))
        }
        Err(error) => {
            let refusal = Refusal::of(error)?;
            let product = product
                .cloned()
                .ok_or_else(|| AppError::not_found("That product variant"))?;
            let choice = form.refused(None, refusal.summary());
            super::shop::product_page(&state, &visitor, product, choice, refusal.status).await
        }
    }
}

#[derive(serde::Deserialize)]
pub struct QuantityForm {
    /// As typed: a refusal shows it again on the cart page.
    quantity: String,
}

/// Changes a line's quantity (0 removes it); a refusal (too few in stock, not a number)
/// is shown on the cart page, on that line.
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
    let changed = match typed_quantity(&form.quantity) {
        Ok(0) => shop::remove_from_cart(&state.services, &owner, variant_id).await,
        Ok(quantity) => {
            shop::set_cart_quantity(&state.services, &owner, variant_id, quantity).await
        }
        Err(error) => Err(error),
    };
    match changed {
        Ok(()) => Ok(redirect_with(jar, "/cart", Flash::CartUpdated)),
        Err(error) => {
            let refusal = Refusal::of(error)?;
            let refused = RefusedQuantity::new(variant_id, &form.quantity, &refusal);
            cart_page(&state, &visitor, Some(refused), Vec::new(), refusal.status).await
        }
    }
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
    /// None when the choices do not price (e.g. a refused discount code).
    totals: Option<Totals>,
    delivery_options: Vec<DeliveryOption>,
    places: Vec<PlaceRow>,
    countries: &'static [(&'static str, &'static str)],
    form: CheckoutForm,
    errors: FieldErrors,
    message: Option<String>,
    idempotency_key: String,
    takes_cards: bool,
    /// Checking out without an account: the form asks for an email.
    guest: bool,
}

impl CheckoutPage {
    fn chosen_delivery(&self) -> i64 {
        self.form.delivery_option.unwrap_or_else(|| {
            self.delivery_options
                .iter()
                .find(|o| !o.pickup)
                .map_or(0, |o| o.id)
        })
    }

    fn error(&self, field: &str) -> Option<&str> {
        self.errors.get(field)
    }
}

/// The checkout form as typed; it also comes back filled in when refused.
#[derive(Debug, Default, serde::Deserialize)]
pub struct CheckoutForm {
    #[serde(default)]
    idempotency_key: String,
    /// A guest's email, for the order's news and the link to it.
    #[serde(default)]
    email: String,
    #[serde(default, deserialize_with = "super::forms::empty_is_none")]
    delivery_option: Option<i64>,
    #[serde(default, deserialize_with = "super::forms::empty_is_none")]
    pickup_place: Option<i64>,
    #[serde(default)]
    coupon: String,
    #[serde(flatten)]
    address: AddressFields,
    /// A free-text address, as the form took before structured addresses.
    #[serde(default)]
    shipping_address: String,
    #[serde(default)]
    save_address: Option<String>,
    /// `stripe` or `on_delivery`; none: on delivery.
    #[serde(default)]
    payment_method: String,
    /// `quote` to see the totals again without placing the order.
    #[serde(default)]
    action: String,
}

impl CheckoutForm {
    fn choice(&self) -> Choice<'_> {
        let typed_address = self.address != AddressFields::default();
        Choice {
            delivery_option: self.delivery_option,
            coupon: Some(self.coupon.as_str()),
            address: typed_address.then_some(&self.address),
            address_text: Some(self.shipping_address.as_str()),
            pickup_place: self.pickup_place,
            payment_method: PaymentMethod::parse(&self.payment_method),
            save_address: self.save_address.is_some(),
        }
    }
}

async fn checkout_page(
    state: &AppState,
    visitor: &Visitor,
    form: CheckoutForm,
    refusal: Option<Refusal>,
) -> PageResult<Response> {
    let lines = shop::cart(&state.services, visitor.cart_owner().as_ref()).await?;
    let (totals, priced) =
        match checkout::quote_lines(&state.services, &lines, &form.choice()).await {
            Ok(totals) => (Some(totals), None),
            Err(error) => (None, Some(Refusal::of(error)?)),
        };
    let refusal = refusal.or(priced);
    let status = refusal.as_ref().map_or(StatusCode::OK, |r| r.status);
    let (errors, message) = refusal.map_or_else(Default::default, |r| (r.errors, r.message));
    let page = CheckoutPage {
        layout: Layout::load(state, visitor, "Checkout", "cart").await?,
        lines,
        totals,
        delivery_options: checkout::delivery_options(&state.services).await?,
        places: checkout::pickup_places(&state.services).await?,
        countries: countries(),
        form,
        errors,
        message,
        idempotency_key: crate::domain::token::new_token(),
        takes_cards: state.services.takes_cards(),
        guest: visitor.user().is_none(),
    };
    Ok(render_with_status(status, &page))
}

pub async fn checkout_form(
    State(state): State<AppState>,
    visitor: Visitor,
) -> PageResult<Response> {
    let form = match visitor.user() {
        Some(user) => {
            let saved = checkout::saved_address(&state.services, user).await?;
            CheckoutForm {
                address: saved.map(|a| a.fields()).unwrap_or_else(|| AddressFields {
                    name: user.first_name.clone(),
                    ..AddressFields::default()
                }),
                ..CheckoutForm::default()
            }
        }
        None => CheckoutForm::default(),
    };
    checkout_page(&state, &visitor, form, None).await
}

/// Places the order, for a signed-in shopper or a guest (who gives an email instead).
pub async fn checkout(
    State(state): State<AppState>,
    visitor: Visitor,
    jar: CookieJar,
    CsrfForm(form): CsrfForm<CheckoutForm>,
) -> PageResult<Response> {
    if form.action == "quote" {
        return checkout_page(&state, &visitor, form, None).await;
    }
    if !form.payment_method.is_empty() && PaymentMethod::parse(&form.payment_method).is_none() {
        let refusal = Refusal::of(AppError::invalid(
            "payment_method",
            "Choose how to pay: by card or on delivery.",
        ))?;
        return checkout_page(&state, &visitor, form, Some(refusal)).await;
    }
    let shopper = match (visitor.user(), visitor.session_id()) {
        (Some(user), _) => Shopper::Account(user),
        (None, Some(session_id)) => Shopper::Guest {
            session_id,
            email: &form.email,
        },
        // No session, so no cart either.
        (None, None) => return Ok(Redirect::to("/cart").into_response()),
    };
    let key = Some(form.idempotency_key.as_str()).filter(|k| !k.is_empty());
    match checkout::place_order(&state.services, shopper, &form.choice(), key).await {
        Ok(placed) => {
            let code = &placed.order.order.code;
            let to = match placed.order.order.payment_method {
                PaymentMethod::Stripe => format!("/orders/{code}/pay"),
                PaymentMethod::OnDelivery => format!("/orders/{code}"),
            };
            Ok(redirect_with(jar, &to, Flash::OrderPlaced))
        }
        Err(error) => {
            let refusal = Refusal::of(error)?;
            checkout_page(&state, &visitor, form, Some(refusal)).await
        }
    }
}
