//! Card payment through Stripe: the few calls checkout makes to the provider, and the check
//! of the webhooks it sends back.
//!
//! The provider is the source of truth for whether money moved (docs: DESIGN, "Money and
//! payment"), so what it says is read into types that cannot be misread: a PaymentIntent's
//! status is an enum, and a value this version does not know is an error, never a guess.
//! Failures come in two kinds the checkout answers differently: the provider could not be
//! asked (unreachable, too slow, overloaded: "try again", a 503) and the provider said no
//! (a declined card, a refund it will not make: its own message).
//!
//! Nothing here runs unless [`crate::config::PaymentSettings::stripe`] is set: without the
//! keys the shop takes "pay on delivery" and never contacts Stripe.

mod client;
mod webhook;

use std::collections::HashMap;
use std::fmt;

use serde::Deserialize;

use crate::domain::OrderCode;

pub use client::{PaymentError, PaymentIntent, Refund, RefundStatus, StripeClient};
pub use webhook::{
    PaymentIntentChange, WebhookError, WebhookEvent, WebhookVerifier, signature_header,
};

/// The metadata key under which a PaymentIntent carries our order code.
pub const ORDER_CODE_METADATA: &str = "order_code";

/// A Stripe object's metadata: string keys and values.
type Metadata = HashMap<String, String>;

/// The order a PaymentIntent was made for, when its metadata names one of ours.
fn order_code_in(metadata: &Metadata) -> Option<OrderCode> {
    OrderCode::parse(metadata.get(ORDER_CODE_METADATA)?)
}

/// A PaymentIntent's id (`pi_…`): letters, digits and underscores only, so that it is safe
/// in a request path and in a database column.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Deserialize)]
#[serde(try_from = "String")]
pub struct PaymentIntentId(String);

/// Whether `raw` looks like one of Stripe's ids with one of these prefixes: the prefix,
/// then letters, digits and underscores, at most 255 in all.
fn is_stripe_id(raw: &str, prefixes: &[&str]) -> bool {
    prefixes.iter().any(|prefix| {
        raw.strip_prefix(prefix).is_some_and(|rest| {
            !rest.is_empty()
                && raw.len() <= 255
                && rest.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        })
    })
}

impl PaymentIntentId {
    pub fn parse(raw: &str) -> Option<Self> {
        is_stripe_id(raw, &["pi_"]).then(|| Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for PaymentIntentId {
    type Error = String;

    fn try_from(raw: String) -> Result<Self, String> {
        Self::parse(&raw).ok_or_else(|| format!("{raw:?} is not a PaymentIntent id"))
    }
}

impl fmt::Display for PaymentIntentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The card a shopper's browser handed to Stripe.js: a PaymentMethod (`pm_…`), or the
/// card of a token (`card_…`), which Stripe takes wherever it takes a PaymentMethod.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentMethodId(String);

impl PaymentMethodId {
    pub fn parse(raw: &str) -> Option<Self> {
        is_stripe_id(raw, &["pm_", "card_"]).then(|| Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Where a PaymentIntent is in its life, as Stripe names it. Only `Succeeded` means the
/// money moved; `RequiresPaymentMethod` after a confirmation means the card was declined.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentIntentStatus {
    RequiresPaymentMethod,
    RequiresConfirmation,
    RequiresAction,
    Processing,
    RequiresCapture,
    Succeeded,
    Canceled,
}

impl PaymentIntentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::RequiresPaymentMethod => "requires_payment_method",
            Self::RequiresConfirmation => "requires_confirmation",
            Self::RequiresAction => "requires_action",
            Self::Processing => "processing",
            Self::RequiresCapture => "requires_capture",
            Self::Succeeded => "succeeded",
            Self::Canceled => "canceled",
        }
    }
}

impl fmt::Display for PaymentIntentStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_payment_intent_id_is_pi_and_letters_digits_or_underscores() {
        assert_eq!(
            PaymentIntentId::parse("pi_3Mtw_BLkdIwHu7ix").map(|id| id.to_string()),
            Some("pi_3Mtw_BLkdIwHu7ix".to_string())
        );
        for wrong in [
            "",
            "pi_",
            "ch_123",
            "pi_12/../refunds",
            "pi_1?expand=x",
            "PI_123",
        ] {
            assert_eq!(PaymentIntentId::parse(wrong), None, "{wrong:?}");
        }
        assert_eq!(
            PaymentIntentId::parse(&format!("pi_{}", "a".repeat(253))),
            None
        );
    }

    #[test]
    fn a_payment_method_is_a_pm_or_a_tokens_card_and_nothing_else() {
        for right in ["pm_1Q0PsIJvEtkwdCNYMSaVuRz6", "card_1Q0Ps_x"] {
            assert_eq!(
                PaymentMethodId::parse(right).map(|id| id.0),
                Some(right.into())
            );
        }
        for wrong in ["", "pm_", "tok_123", "pi_123", "card_1'; --", "src_123"] {
            assert_eq!(PaymentMethodId::parse(wrong), None, "{wrong:?}");
        }
    }

    #[test]
    fn every_status_reads_back_from_its_name_and_an_unknown_one_is_an_error() {
        let names = "requires_payment_method requires_confirmation requires_action processing \
                     requires_capture succeeded canceled";
        for name in names.split_whitespace() {
            let read: PaymentIntentStatus = serde_json::from_value(serde_json::json!(name))
                .unwrap_or_else(|error| panic!("{name}: {error}"));
            assert_eq!(read.as_str(), name);
        }
        assert!(serde_json::from_str::<PaymentIntentStatus>(r#""paid""#).is_err());
    }
}
