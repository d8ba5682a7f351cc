//! What the API sends: plain data, money in integer cents, times in RFC 3339 UTC.

use crate::db::checkout::{DeliveryOption, DiscountCode};
use crate::domain::address::AddressFields;
use crate::domain::checkout::{DiscountKind, PaymentMethod};
use crate::services::checkout::Choice;
use crate::services::payments::PaymentStart;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::db::cart::{CartLine, cart_total};
use crate::db::catalog::{Product, VariantRow};
use crate::db::orders::Order;
use crate::db::places::PlaceRow;
use crate::db::users::UserRow;
use crate::domain::{OrderStatus, Role};
use crate::services::radar::NearbyPlace;

#[derive(Serialize, ToSchema)]
pub struct UserOut {
    pub id: i64,
    pub username: String,
    pub email: String,
    pub first_name: String,
    pub address: Option<String>,
    pub photo_url: Option<String>,
    #[schema(value_type = String)]
    pub role: Role,
}

impl From<&UserRow> for UserOut {
    fn from(user: &UserRow) -> Self {
        Self {
            id: user.id,
            username: user.username.clone(),
            email: user.email.clone(),
            first_name: user.first_name.clone(),
            address: user.address.clone(),
            photo_url: user.photo_url(),
            role: user.role,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct VariantOut {
    pub id: i64,
    pub color: String,
    pub size: String,
    pub price_cents: i64,
    pub stock: i64,
}

impl From<&VariantRow> for VariantOut {
    fn from(v: &VariantRow) -> Self {
        Self {
            id: v.id,
            color: v.color.clone(),
            size: v.size.clone(),
            price_cents: v.price_cents,
            stock: v.stock,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct ProductOut {
    pub id: i64,
    pub slug: String,
    pub name: String,
    pub description: String,
    pub category: String,
    pub price_cents: i64,
    pub image_url: String,
    pub variants: Vec<VariantOut>,
}

impl From<&Product> for ProductOut {
    fn from(p: &Product) -> Self {
        Self {
            id: p.product.id,
            slug: p.product.slug.clone(),
            name: p.product.name.clone(),
            description: p.product.description.clone(),
            category: p.product.category.clone(),
            price_cents: p.product.price_cents,
            image_url: p.product.image_url(),
            variants: p.variants.iter().map(VariantOut::from).collect(),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct CartLineOut {
    pub variant_id: i64,
    pub product_id: i64,
    pub product: String,
    pub color: String,
    pub size: String,
    pub unit_price_cents: i64,
    pub quantity: i64,
    pub line_total_cents: i64,
}

#[derive(Serialize, ToSchema)]
pub struct CartOut {
    pub items: Vec<CartLineOut>,
    pub total_cents: i64,
}

impl From<&[CartLine]> for CartOut {
    fn from(lines: &[CartLine]) -> Self {
        Self {
            items: lines
                .iter()
                .map(|l| CartLineOut {
                    variant_id: l.variant_id,
                    product_id: l.product_id,
                    product: l.product_name.clone(),
                    color: l.color.clone(),
                    size: l.size.clone(),
                    unit_price_cents: l.unit_price_cents,
                    quantity: l.quantity,
                    line_total_cents: l.line_total().get(),
                })
                .collect(),
            total_cents: cart_total(lines).get(),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct OrderLineOut {
    pub product: String,
    pub color: String,
    pub size: String,
    pub quantity: i64,
    pub unit_price_cents: i64,
}

#[derive(Serialize, ToSchema)]
pub struct OrderOut {
    pub code: String,
    #[schema(value_type = String)]
    pub status: OrderStatus,
    pub subtotal_cents: i64,
    pub delivery_cents: i64,
    pub discount_cents: i64,
    pub tax_cents: i64,
    pub total_cents: i64,
    pub created_at: String,
    /// The address as a label, or the coffee place it is picked up at.
    pub shipping_address: String,
    /// The delivery option chosen (none for orders from before delivery options).
    pub delivery: Option<String>,
    pub coupon: Option<String>,
    pub payment_method: PaymentMethod,
    /// Why the last card attempt failed, while the order awaits payment.
    pub payment_error: Option<String>,
    pub refunded_cents: i64,
    /// For an order awaiting a card payment, when just placed: what Stripe.js needs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payment: Option<PaymentStart>,
    pub lines: Vec<OrderLineOut>,
}

impl From<&Order> for OrderOut {
    fn from(o: &Order) -> Self {
        Self {
            code: o.order.code.clone(),
            status: o.order.status,
            subtotal_cents: o.order.subtotal_cents,
            delivery_cents: o.order.delivery_cents,
            discount_cents: o.order.discount_cents,
            tax_cents: o.order.tax_cents,
            total_cents: o.order.total_cents,
            created_at: rfc3339(o.order.created_at),
            shipping_address: o.order.shipping_address.clone(),
            delivery: o.order.delivery_name.clone(),
            coupon: o.order.discount_code.clone(),
            payment_method: o.order.payment_method,
            payment_error: o.order.payment_error.clone(),
            refunded_cents: o.order.refunded_cents,
            payment: None,
            lines: o
                .lines
                .iter()
                .map(|l| OrderLineOut {
                    product: l.product_name.clone(),
                    color: l.color.clone(),
                    size: l.size.clone(),
                    quantity: l.quantity,
                    unit_price_cents: l.unit_price_cents,
                })
                .collect(),
        }
    }
}

fn rfc3339(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

#[derive(Serialize, ToSchema)]
pub struct PlaceOut {
    pub id: i64,
    pub name: String,
    pub address: String,
    pub city: String,
    pub lat: f64,
    pub lon: f64,
    pub description: String,
    /// From the point asked about; null when none was given.
    pub distance_km: Option<f64>,
}

impl From<&PlaceRow> for PlaceOut {
    fn from(place: &PlaceRow) -> Self {
        Self {
            id: place.id,
            name: place.name.clone(),
            address: place.address.clone(),
            city: place.city.clone(),
            lat: place.lat,
            lon: place.lon,
            description: place.description.clone(),
            distance_km: None,
        }
    }
}

impl From<&NearbyPlace> for PlaceOut {
    fn from(n: &NearbyPlace) -> Self {
        Self {
            distance_km: Some((n.distance_km * 100.0).round() / 100.0),
            ..Self::from(&n.place)
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct ErrorOut {
    /// What went wrong, for people.
    pub error: String,
    /// A message per field, for validation errors.
    pub fields: Option<std::collections::BTreeMap<String, String>>,
}

#[derive(Deserialize, ToSchema)]
pub struct SignIn {
    pub username: String,
    pub password: String,
}

#[derive(Deserialize, ToSchema)]
pub struct AddItem {
    #[serde(deserialize_with = "whole_number")]
    pub variant_id: i64,
    #[serde(deserialize_with = "whole_number")]
    pub quantity: i64,
}

#[derive(Deserialize, ToSchema)]
pub struct SetQuantity {
    #[serde(deserialize_with = "whole_number")]
    pub quantity: i64,
}

/// An integer as JSON Schema counts them: `3` and `3.0` alike (some JSON writers send
/// every number with a fraction), but not `3.5`.
/// An optional whole number that may come as `12.0` (JSON does not tell them apart).
fn optional_whole_number<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<i64>, D::Error> {
    #[derive(Deserialize)]
    struct Whole(#[serde(deserialize_with = "whole_number")] i64);
    Ok(Option::<Whole>::deserialize(deserializer)?.map(|Whole(n)| n))
}

fn whole_number<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<i64, D::Error> {
    let number = serde_json::Number::deserialize(deserializer)?;
    number
        .as_i64()
        .or_else(|| {
            number
                .as_f64()
                .filter(|n| n.fract() == 0.0 && n.abs() < 9.0e15)
                .map(|n| n as i64)
        })
        .ok_or_else(|| serde::de::Error::custom(format!("expected a whole number, got {number}")))
}

/// An order's choices; all may be left out (the first delivery option that ships, the
/// profile's address, payment on delivery).
#[derive(Deserialize, ToSchema, Default)]
pub struct PlaceOrder {
    /// A delivery option's id, from `GET /delivery-options`.
    #[serde(default, deserialize_with = "optional_whole_number")]
    pub delivery_option: Option<i64>,
    /// A discount code.
    pub coupon: Option<String>,
    /// Where to ship.
    pub address: Option<AddressFields>,
    /// A free-text address, as the API took before `address`.
    pub shipping_address: Option<String>,
    /// For a pick-up option: the coffee place's id, from `GET /places`.
    #[serde(default, deserialize_with = "optional_whole_number")]
    pub pickup_place: Option<i64>,
    pub payment_method: Option<PaymentMethod>,
    /// Keep `address` in the profile.
    #[serde(default)]
    pub save_address: bool,
}

impl PlaceOrder {
    pub fn choice(&self) -> Choice<'_> {
        Choice {
            delivery_option: self.delivery_option,
            coupon: self.coupon.as_deref(),
            address: self.address.as_ref(),
            address_text: self.shipping_address.as_deref(),
            pickup_place: self.pickup_place,
            payment_method: self.payment_method,
            save_address: self.save_address,
        }
    }
}

/// What a quote depends on.
#[derive(Deserialize, ToSchema, Default)]
pub struct QuoteRequest {
    #[serde(default, deserialize_with = "optional_whole_number")]
    pub delivery_option: Option<i64>,
    pub coupon: Option<String>,
    /// Accepted for symmetry with the order; the shop's prices do not depend on it.
    pub address: Option<AddressFields>,
}

impl QuoteRequest {
    pub fn choice(&self) -> Choice<'_> {
        Choice {
            delivery_option: self.delivery_option,
            coupon: self.coupon.as_deref(),
            ..Choice::default()
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct DeliveryOptionOut {
    pub id: i64,
    pub name: String,
    pub price_cents: i64,
    pub estimated_days: i64,
    /// Picked up at a coffee place (choose it with `pickup_place`) instead of shipped.
    pub pickup: bool,
}

/// A delivery option as staff see it.
#[derive(Serialize, ToSchema)]
pub struct StaffDeliveryOptionOut {
    #[serde(flatten)]
    pub option: DeliveryOptionOut,
    pub active: bool,
}

impl From<&DeliveryOption> for StaffDeliveryOptionOut {
    fn from(o: &DeliveryOption) -> Self {
        Self {
            option: DeliveryOptionOut::from(o),
            active: o.active,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct DiscountCodeOut {
    pub id: i64,
    pub code: String,
    pub kind: DiscountKind,
    /// Basis points for a percentage, cents for a fixed amount.
    pub amount: i64,
    pub min_subtotal_cents: i64,
    pub expires_at: Option<i64>,
    pub max_uses: Option<i64>,
    pub uses: i64,
    pub active: bool,
}

impl From<&DiscountCode> for DiscountCodeOut {
    fn from(d: &DiscountCode) -> Self {
        Self {
            id: d.id,
            code: d.code.clone(),
            kind: d.rule.kind,
            amount: d.rule.amount,
            min_subtotal_cents: d.rule.min_subtotal.get(),
            expires_at: d.rule.expires_at,
            max_uses: d.rule.max_uses,
            uses: d.rule.uses,
            active: d.rule.active,
        }
    }
}

impl From<&DeliveryOption> for DeliveryOptionOut {
    fn from(o: &DeliveryOption) -> Self {
        Self {
            id: o.id,
            name: o.name.clone(),
            price_cents: o.price_cents,
            estimated_days: o.estimated_days,
            pickup: o.pickup,
        }
    }
}

/// A point on Earth, in degrees. Documents the query of `/places`, which has both
/// coordinates or neither (an optional object parameter, exploded into `lat` and `lon`).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct Point {
    #[schema(minimum = -90, maximum = 90)]
    pub lat: f64,
    #[schema(minimum = -180, maximum = 180)]
    pub lon: f64,
}

/// A picture file as the request body: its bytes, not JSON.
#[derive(ToSchema)]
#[schema(value_type = String, format = Binary)]
#[allow(dead_code)]
pub struct PictureFile(Vec<u8>);

/// The query of `/places` as sent: a [`Point`], or nothing.
#[derive(Deserialize)]
pub struct Near {
    pub lat: Option<f64>,
    pub lon: Option<f64>,
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ProductSearch {
    /// Only this category.
    pub category: Option<String>,
    /// What to search for: words of the name, category, description, colours or sizes,
    /// with plurals and small typos forgiven; best matches first unless `sort` says else.
    pub q: Option<String>,
    /// The order of the list (default: best matches first, or the shop's own order).
    pub sort: Option<ProductSort>,
    /// Only products with a price of at least this many cents.
    #[param(minimum = 0, maximum = 100_000_000)]
    pub min_price_cents: Option<i64>,
    /// Only products with a price of at most this many cents.
    #[param(minimum = 0, maximum = 100_000_000)]
    pub max_price_cents: Option<i64>,
}

/// The orders of the product list, as in the shop's sort menu.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
pub enum ProductSort {
    #[serde(rename = "relevance")]
    Relevance,
    /// By the lowest price, cheapest first.
    #[serde(rename = "price")]
    PriceLow,
    #[serde(rename = "price-desc")]
    PriceHigh,
    #[serde(rename = "name")]
    Name,
    #[serde(rename = "newest")]
    Newest,
}

impl From<ProductSort> for crate::services::catalog::Sort {
    fn from(sort: ProductSort) -> Self {
        match sort {
            ProductSort::Relevance => Self::Relevance,
            ProductSort::PriceLow => Self::PriceLow,
            ProductSort::PriceHigh => Self::PriceHigh,
            ProductSort::Name => Self::Name,
            ProductSort::Newest => Self::Newest,
        }
    }
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PeriodQuery {
    /// First day, YYYY-MM-DD (default: 29 days before `to`).
    pub from: Option<String>,
    /// Last day, included, YYYY-MM-DD (default: today, UTC).
    pub to: Option<String>,
}
