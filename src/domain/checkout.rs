//! The rules of checkout that staff set up: delivery options and discount codes, and how
//! an order is paid.

use super::pricing::Discount;
use super::{Cents, FieldErrors, UnknownValue, stored_by_name};

/// How an order is paid.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum PaymentMethod {
    /// Cash or card to the courier, or at the coffee place.
    OnDelivery,
    /// A card, through Stripe, at checkout.
    Stripe,
}

impl PaymentMethod {
    pub const ALL: [PaymentMethod; 2] = [Self::OnDelivery, Self::Stripe];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::OnDelivery => "on_delivery",
            Self::Stripe => "stripe",
        }
    }
}

stored_by_name!(PaymentMethod, "payment method");

/// A discount code's kind: what its amount counts.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum DiscountKind {
    /// The amount is in basis points of the subtotal (1000 is 10 %).
    Percent,
    /// The amount is in cents.
    Fixed,
}

impl DiscountKind {
    pub const ALL: [DiscountKind; 2] = [Self::Percent, Self::Fixed];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Percent => "percent",
            Self::Fixed => "fixed",
        }
    }
}

stored_by_name!(DiscountKind, "discount kind");

/// The text a shopper types for a discount: letters, digits and dashes, compared without
/// regard to case (stored upper-case).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiscountCodeName(String);

impl DiscountCodeName {
    pub const MAX_CHARS: usize = 40;

    pub fn parse(raw: &str) -> Result<Self, String> {
        let code = raw.trim().to_uppercase();
        let well_formed = (3..=Self::MAX_CHARS).contains(&code.len())
            && code.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
        if well_formed {
            Ok(Self(code))
        } else {
            Err("A discount code is 3 to 40 letters, digits or dashes.".into())
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What a stored discount code allows, as the checkout checks it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiscountRule {
    pub kind: DiscountKind,
    pub amount: i64,
    pub min_subtotal: Cents,
    /// UTC milliseconds after which it no longer works.
    pub expires_at: Option<i64>,
    /// How many orders may use it in all.
    pub max_uses: Option<i64>,
    pub uses: i64,
    pub active: bool,
}

impl DiscountRule {
    /// The discount for goods worth `subtotal` at `now_ms`, or why the code is refused.
    pub fn applies(&self, subtotal: Cents, now_ms: i64) -> Result<Discount, String> {
        if !self.active || self.expires_at.is_some_and(|at| at <= now_ms) {
            return Err("That discount code has expired.".into());
        }
        if self.max_uses.is_some_and(|max| self.uses >= max) {
            return Err("That discount code has been used up.".into());
        }
        if subtotal < self.min_subtotal {
            return Err(format!(
                "That discount code needs an order of at least {}.",
                self.min_subtotal
            ));
        }
        Ok(match self.kind {
            DiscountKind::Percent => Discount::Percent(self.amount.clamp(0, 10_000) as u32),
            DiscountKind::Fixed => Discount::Fixed(Cents::new(self.amount)),
        })
    }
}

/// A discount code as staff send it, before any check.
#[derive(Debug, Clone, Default, serde::Deserialize, utoipa::ToSchema)]
pub struct DiscountFields {
    pub code: String,
    pub kind: Option<DiscountKind>,
    /// Basis points for a percentage (1000 is 10 %), cents for a fixed amount.
    pub amount: i64,
    #[serde(default)]
    pub min_subtotal_cents: i64,
    /// UTC milliseconds; none: no expiry.
    pub expires_at: Option<i64>,
    pub max_uses: Option<i64>,
    #[serde(default = "yes")]
    pub active: bool,
}

fn yes() -> bool {
    true
}

/// A checked discount code, ready to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiscountDetails {
    pub code: DiscountCodeName,
    pub kind: DiscountKind,
    pub amount: i64,
    pub min_subtotal: Cents,
    pub expires_at: Option<i64>,
    pub max_uses: Option<i64>,
    pub active: bool,
}

impl DiscountDetails {
    pub fn parse(fields: &DiscountFields) -> Result<Self, FieldErrors> {
        let mut errors = FieldErrors::default();
        let code = errors.check("code", DiscountCodeName::parse(&fields.code));
        let kind = errors.check(
            "kind",
            fields
                .kind
                .ok_or_else(|| "Choose \"percent\" or \"fixed\".".to_owned()),
        );
        match kind {
            Some(DiscountKind::Percent) if !(1..=10_000).contains(&fields.amount) => errors.add(
                "amount",
                "A percentage is 1 to 10000 basis points (10000 is 100 %).",
            ),
            Some(DiscountKind::Fixed) if !(1..=100_000_000).contains(&fields.amount) => {
                errors.add("amount", "A fixed amount is 1 to 100000000 cents.")
            }
            _ => {}
        }
        if !(0..=100_000_000).contains(&fields.min_subtotal_cents) {
            errors.add("min_subtotal_cents", "From 0 to 100000000 cents.");
        }
        if fields.max_uses.is_some_and(|n| n < 1) {
            errors.add("max_uses", "At least 1, or none for no limit.");
        }
        if fields.expires_at.is_some_and(|at| at < 0) {
            errors.add("expires_at", "A time in UTC milliseconds since 1970.");
        }
        match (code, kind) {
            (Some(code), Some(kind)) if errors.is_empty() => Ok(Self {
                code,
                kind,
                amount: fields.amount,
                min_subtotal: Cents::new(fields.min_subtotal_cents),
                expires_at: fields.expires_at,
                max_uses: fields.max_uses,
                active: fields.active,
            }),
            _ => Err(errors),
        }
    }
}

/// A delivery option as staff send it, before any check.
#[derive(Debug, Clone, Default, serde::Deserialize, utoipa::ToSchema)]
pub struct DeliveryFields {
    pub name: String,
    pub price_cents: i64,
    pub estimated_days: i64,
    /// Collected at a coffee place of the Radar instead of shipped.
    #[serde(default)]
    pub pickup: bool,
    #[serde(default = "yes")]
    pub active: bool,
}

/// A checked delivery option, ready to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryDetails {
    pub name: String,
    pub price: Cents,
    pub estimated_days: i64,
    pub pickup: bool,
    pub active: bool,
}

impl DeliveryDetails {
    pub const NAME_MAX_CHARS: usize = 80;

    pub fn parse(fields: &DeliveryFields) -> Result<Self, FieldErrors> {
        let mut errors = FieldErrors::default();
        let name = fields.name.trim();
        if name.is_empty()
            || name.chars().count() > Self::NAME_MAX_CHARS
            || name.chars().any(char::is_control)
        {
            errors.add("name", "Give the option a name of at most 80 characters.");
        }
        if !(0..=1_000_000).contains(&fields.price_cents) {
            errors.add("price_cents", "From 0 to 1000000 cents.");
        }
        if !(0..=365).contains(&fields.estimated_days) {
            errors.add("estimated_days", "From 0 to 365 days.");
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(Self {
            name: name.to_owned(),
            price: Cents::new(fields.price_cents),
            estimated_days: fields.estimated_days,
            pickup: fields.pickup,
            active: fields.active,
        })
    }
}

/// Read back from a 0/1 column; anything else is refused.
pub fn flag(stored: i64, kind: &'static str) -> Result<bool, UnknownValue> {
    match stored {
        0 => Ok(false),
        1 => Ok(true),
        other => Err(UnknownValue {
            kind,
            value: other.to_string(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule() -> DiscountRule {
        DiscountRule {
            kind: DiscountKind::Percent,
            amount: 1500,
            min_subtotal: Cents::new(2000),
            expires_at: Some(10_000),
            max_uses: Some(3),
            uses: 2,
            active: true,
        }
    }

    #[test]
    fn a_code_applies_within_its_terms_and_says_why_not_otherwise() {
        assert_eq!(
            rule().applies(Cents::new(2000), 9_999),
            Ok(Discount::Percent(1500))
        );
        let refused = |r: DiscountRule, subtotal: i64, now: i64| {
            r.applies(Cents::new(subtotal), now).unwrap_err()
        };
        assert!(refused(rule(), 2000, 10_000).contains("expired"));
        assert!(refused(DiscountRule { uses: 3, ..rule() }, 2000, 0).contains("used up"));
        assert!(refused(rule(), 1999, 0).contains("at least $20.00"));
        assert!(
            refused(
                DiscountRule {
                    active: false,
                    ..rule()
                },
                5000,
                0
            )
            .contains("expired")
        );
    }

    #[test]
    fn code_names_are_compared_upper_case_and_kept_plain() {
        assert_eq!(
            DiscountCodeName::parse(" welcome-10 ").unwrap().as_str(),
            "WELCOME-10"
        );
        assert!(DiscountCodeName::parse("no").is_err());
        assert!(DiscountCodeName::parse("DROP TABLE").is_err());
        assert!(DiscountCodeName::parse(&"A".repeat(41)).is_err());
    }

    #[test]
    fn staff_fields_are_checked_each_by_name() {
        let errors = DiscountDetails::parse(&DiscountFields {
            code: "x".into(),
            kind: Some(DiscountKind::Percent),
            amount: 20_000,
            max_uses: Some(0),
            ..DiscountFields::default()
        })
        .unwrap_err();
        let named: Vec<&str> = errors.iter().map(|(f, _)| f).collect();
        assert_eq!(named, ["code", "amount", "max_uses"]);
        let delivery = DeliveryDetails::parse(&DeliveryFields {
            name: "  Courier ".into(),
            price_cents: 350,
            estimated_days: 2,
            pickup: false,
            active: true,
        })
        .unwrap();
        assert_eq!(delivery.name, "Courier");
        assert!(
            DeliveryDetails::parse(&DeliveryFields {
                price_cents: -1,
                ..DeliveryFields::default()
            })
            .is_err()
        );
    }
}
