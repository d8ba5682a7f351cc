//! What checkout offers: delivery options and discount codes, listed, added and changed.
//! Amounts are typed as staff think of them (dollars, whole percents, a date) and turned
//! into the stored units here; the rules are `domain::checkout`'s.

use askama::Template;
use axum::extract::{Path, State};
use axum::response::Response;
use axum_extra::extract::CookieJar;

use super::{layout, render_page};
use crate::db::checkout::{DeliveryOption, DiscountCode};
use crate::domain::checkout::{DeliveryFields, DiscountFields, DiscountKind};
use crate::domain::{Cents, FieldErrors};
use crate::error::AppError;
use crate::services::staff;
use crate::state::AppState;
use crate::web::{CsrfForm, Flash, Layout, PageResult, Refusal, SignedIn, Staff, redirect_with};

#[derive(Template)]
#[template(path = "admin/checkout.html")]
struct CheckoutSetupPage {
    layout: Layout,
    options: Vec<DeliveryOption>,
    codes: Vec<DiscountCode>,
    errors: FieldErrors,
    message: Option<String>,
}

impl CheckoutSetupPage {
    /// "15 %" or "$5.00".
    fn takes_off(&self, code: &DiscountCode) -> String {
        match code.rule.kind {
            DiscountKind::Percent => format!("{} %", self.amount_value(code)),
            DiscountKind::Fixed => Cents::new(code.rule.amount).to_string(),
        }
    }

    /// The amount as the form takes it back: percents or dollars, with two decimals.
    fn amount_value(&self, code: &DiscountCode) -> String {
        Cents::new(code.rule.amount).form_value()
    }

    /// The last day a code works, YYYY-MM-DD, or nothing.
    fn last_day(&self, code: &DiscountCode) -> String {
        code.rule
            .expires_at
            .and_then(|ms| time::OffsetDateTime::from_unix_timestamp(ms / 1000 - 1).ok())
            .map(|at| at.date().to_string())
            .unwrap_or_default()
    }
}

async fn page(
    state: &AppState,
    staff: &SignedIn,
    refusal: Option<Refusal>,
) -> PageResult<Response> {
    let shows_refusal = refusal.is_some();
    let (errors, message) = refusal.map_or_else(Default::default, |r| (r.errors, r.message));
    let page = CheckoutSetupPage {
        layout: layout(state, staff, "Delivery and discounts").await?,
        options: staff::delivery_options(&state.services).await?,
        codes: staff::discount_codes(&state.services).await?,
        errors,
        message,
    };
    Ok(render_page(&page, shows_refusal))
}

pub(super) async fn show(
    State(state): State<AppState>,
    Staff(staff): Staff,
) -> PageResult<Response> {
    page(&state, &staff, None).await
}

/// A delivery option's form: the price in dollars, the boxes ticked or not.
#[derive(Debug, serde::Deserialize)]
pub(super) struct DeliveryForm {
    name: String,
    price: String,
    estimated_days: String,
    #[serde(default)]
    pickup: Option<String>,
    #[serde(default)]
    active: Option<String>,
}

impl DeliveryForm {
    fn fields(&self) -> Result<DeliveryFields, AppError> {
        let price = Cents::parse(&self.price).map_err(|m| AppError::invalid("price", m))?;
        let days =
            self.estimated_days.trim().parse().map_err(|_| {
                AppError::invalid("estimated_days", "Give the days as a whole number.")
            })?;
        Ok(DeliveryFields {
            name: self.name.clone(),
            price_cents: price.get(),
            estimated_days: days,
            pickup: self.pickup.is_some(),
            active: self.active.is_some(),
        })
    }
}

/// A discount code's form: a percent or dollars, a minimum in dollars, the last day.
#[derive(Debug, serde::Deserialize)]
pub(super) struct DiscountForm {
    code: String,
    kind: String,
    amount: String,
    #[serde(default)]
    min_subtotal: String,
    /// YYYY-MM-DD, the last day it works (UTC); blank: no expiry.
    #[serde(default)]
    expires_on: String,
    #[serde(default)]
    max_uses: String,
    #[serde(default)]
    active: Option<String>,
}

impl DiscountForm {
    fn fields(&self) -> Result<DiscountFields, AppError> {
        let kind = DiscountKind::parse(&self.kind)
            .ok_or_else(|| AppError::invalid("kind", "Choose a percentage or a fixed amount."))?;
        let amount = match kind {
            // Percent with two decimals is basis points, as dollars with two are cents.
            DiscountKind::Percent => Cents::parse(&self.amount)
                .map_err(|_| {
                    AppError::invalid("amount", "Give the percentage, such as 10 or 12.5.")
                })?
                .get(),
            DiscountKind::Fixed => Cents::parse(&self.amount)
                .map_err(|m| AppError::invalid("amount", m))?
                .get(),
        };
        let min_subtotal = match self.min_subtotal.trim() {
            "" => 0,
            raw => Cents::parse(raw)
                .map_err(|m| AppError::invalid("min_subtotal_cents", m))?
                .get(),
        };
        let expires_at = match self.expires_on.trim() {
            "" => None,
            raw => Some(end_of_day_ms(raw).ok_or_else(|| {
                AppError::invalid("expires_at", "Give the last day as YYYY-MM-DD.")
            })?),
        };
        let max_uses = match self.max_uses.trim() {
            "" => None,
            raw => Some(raw.parse().map_err(|_| {
                AppError::invalid(
                    "max_uses",
                    "Give the uses as a whole number, or leave it blank.",
                )
            })?),
        };
        Ok(DiscountFields {
            code: self.code.clone(),
            kind: Some(kind),
            amount,
            min_subtotal_cents: min_subtotal,
            expires_at,
            max_uses,
            active: self.active.is_some(),
        })
    }
}

/// The first millisecond after `day` (UTC): a code that expires then works all that day.
fn end_of_day_ms(day: &str) -> Option<i64> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    let date = time::Date::parse(day, &format).ok()?.next_day()?;
    Some(date.midnight().assume_utc().unix_timestamp() * 1000)
}

async fn saved(
    state: &AppState,
    staff: &SignedIn,
    jar: CookieJar,
    result: Result<(), AppError>,
) -> PageResult<Response> {
    match result {
        Ok(()) => Ok(redirect_with(jar, "/admin/checkout", Flash::Saved)),
        Err(error) => page(state, staff, Some(Refusal::of(error)?)).await,
    }
}

pub(super) async fn create_delivery(
    State(state): State<AppState>,
    Staff(staff): Staff,
    jar: CookieJar,
    CsrfForm(form): CsrfForm<DeliveryForm>,
) -> PageResult<Response> {
    let result = async {
        staff::save_delivery_option(&state.services, None, &form.fields()?).await?;
        Ok(())
    }
    .await;
    saved(&state, &staff, jar, result).await
}

pub(super) async fn update_delivery(
    State(state): State<AppState>,
    Staff(staff): Staff,
    jar: CookieJar,
    Path(id): Path<i64>,
    CsrfForm(form): CsrfForm<DeliveryForm>,
) -> PageResult<Response> {
    let result = async {
        staff::save_delivery_option(&state.services, Some(id), &form.fields()?).await?;
        Ok(())
    }
    .await;
    saved(&state, &staff, jar, result).await
}

pub(super) async fn create_discount(
    State(state): State<AppState>,
    Staff(staff): Staff,
    jar: CookieJar,
    CsrfForm(form): CsrfForm<DiscountForm>,
) -> PageResult<Response> {
    let result = async {
        staff::save_discount_code(&state.services, None, &form.fields()?).await?;
        Ok(())
    }
    .await;
    saved(&state, &staff, jar, result).await
}

pub(super) async fn update_discount(
    State(state): State<AppState>,
    Staff(staff): Staff,
    jar: CookieJar,
    Path(id): Path<i64>,
    CsrfForm(form): CsrfForm<DiscountForm>,
) -> PageResult<Response> {
    let result = async {
        staff::save_discount_code(&state.services, Some(id), &form.fields()?).await?;
        Ok(())
    }
    .await;
    saved(&state, &staff, jar, result).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_code_typed_in_staff_units_is_stored_in_cents_and_basis_points() {
        let form = DiscountForm {
            code: "spring".into(),
            kind: "percent".into(),
            amount: "15".into(),
            min_subtotal: "20.00".into(),
            expires_on: "2026-03-31".into(),
            max_uses: "".into(),
            active: Some("on".into()),
        };
        let fields = form.fields().unwrap();
        assert_eq!((fields.amount, fields.min_subtotal_cents), (1500, 2000));
        // 1 April 2026 00:00 UTC.
        assert_eq!(fields.expires_at, Some(1_775_001_600_000));
        assert_eq!(fields.max_uses, None);
        assert!(
            DiscountForm {
                expires_on: "31/03/2026".into(),
                ..form
            }
            .fields()
            .is_err()
        );
    }
}
