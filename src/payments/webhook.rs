//! Stripe's webhook signatures, and the event they sign.
//!
//! Anyone can POST to the webhook address, so an event counts only when its
//! `Stripe-Signature` header (`t=TIMESTAMP,v1=HEX[,v1=HEX…]`) holds an HMAC-SHA256 of
//! `TIMESTAMP.BODY` under the endpoint's secret, compared in constant time. Several `v1`
//! values appear while Stripe rolls the secret; one match is enough, other schemes (`v0`)
//! are ignored. The timestamp must be within the tolerance of now, so that a captured
//! request cannot be replayed later (a replay within it changes nothing: checkout stores
//! each event id).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::Sha256;
use subtle::ConstantTimeEq;

use super::{Metadata, PaymentIntentId, PaymentIntentStatus, order_code_in};
use crate::config::StripeConfig;
use crate::domain::OrderCode;

/// Why a webhook is refused (each one a 400 for the sender).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookError {
    #[error("the Stripe-Signature header is malformed: {0}")]
    MalformedHeader(&'static str),
    #[error("no signature in the Stripe-Signature header matches the body")]
    NoMatchingSignature,
    #[error("the signature's timestamp is more than {0} seconds away from now")]
    OutsideTolerance(u64),
    #[error("the body is not a Stripe event: {0}")]
    MalformedEvent(String),
}

/// A signed event from Stripe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookEvent {
    /// `evt_…`: the same event may arrive more than once.
    pub id: String,
    /// Such as `payment_intent.succeeded`.
    pub kind: String,
    /// The PaymentIntent the event is about, when it is about one.
    pub payment_intent: Option<PaymentIntentChange>,
}

/// A PaymentIntent as an event shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentIntentChange {
    pub id: PaymentIntentId,
    pub status: PaymentIntentStatus,
    pub order_code: Option<OrderCode>,
}

/// Checks webhooks against the endpoint's secret.
#[derive(Clone)]
pub struct WebhookVerifier {
    secret: String,
    tolerance: Duration,
}

impl WebhookVerifier {
    pub fn new(config: &StripeConfig) -> Self {
        Self::with_secret(&config.webhook_secret, config.webhook_tolerance)
    }

    pub fn with_secret(secret: &str, tolerance: Duration) -> Self {
        Self {
            secret: secret.to_owned(),
            tolerance,
        }
    }

    /// The event in `body`, once `header` (the Stripe-Signature value) proves Stripe sent it.
    pub fn event(
        &self,
        header: &str,
        body: &[u8],
        now: SystemTime,
    ) -> Result<WebhookEvent, WebhookError> {
        self.verify(header, body, now)?;
        parse_event(body)
    }

    /// Whether `header` signs `body` with our secret, at a time within the tolerance of `now`.
    pub fn verify(&self, header: &str, body: &[u8], now: SystemTime) -> Result<(), WebhookError> {
        let signed = SignatureHeader::parse(header)?;
        let expected = signature(&self.secret, signed.timestamp, body);
        let matches = signed
            .v1
            .iter()
            .filter_map(|candidate| hex::decode(candidate).ok())
            .any(|candidate| bool::from(candidate.ct_eq(&expected)));
        if !matches {
            return Err(WebhookError::NoMatchingSignature);
        }
        let now = now.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
        let tolerance = self.tolerance.as_secs();
        if now.abs_diff(signed.timestamp) > tolerance {
            return Err(WebhookError::OutsideTolerance(tolerance));
        }
        Ok(())
    }
}

/// The Stripe-Signature value Stripe would send for `body` at `timestamp` (Unix seconds):
/// what tests and local tools sign their events with.
pub fn signature_header(secret: &str, timestamp: u64, body: &[u8]) -> String {
    format!(
        "t={timestamp},v1={}",
        hex::encode(signature(secret, timestamp, body))
    )
}

/// HMAC-SHA256 of `TIMESTAMP.BODY` under the secret.
fn signature(secret: &str, timestamp: u64, body: &[u8]) -> Vec<u8> {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes a key of any length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac.finalize().into_bytes().to_vec()
}

struct SignatureHeader<'a> {
    timestamp: u64,
    v1: Vec<&'a str>,
}

impl<'a> SignatureHeader<'a> {
    fn parse(header: &'a str) -> Result<Self, WebhookError> {
        let mut timestamp = None;
        let mut v1 = Vec::new();
        for item in header.split(',') {
            let (key, value) = item
                .trim()
                .split_once('=')
                .ok_or(WebhookError::MalformedHeader("expected key=value items"))?;
            match key {
                "t" if timestamp.is_some() => {
                    return Err(WebhookError::MalformedHeader("more than one timestamp"));
                }
                "t" => {
                    let seconds = value
                        .parse()
                        .map_err(|_| WebhookError::MalformedHeader("the timestamp is no number"))?;
                    timestamp = Some(seconds);
                }
                "v1" => v1.push(value),
                _ => {}
            }
        }
        let timestamp = timestamp.ok_or(WebhookError::MalformedHeader("no timestamp (t=)"))?;
        if v1.is_empty() {
            return Err(WebhookError::MalformedHeader("no v1 signature"));
        }
        Ok(Self { timestamp, v1 })
    }
}

#[derive(Deserialize)]
struct EventBody {
    id: String,
    #[serde(rename = "type")]
    kind: String,
    data: EventData,
}

#[derive(Deserialize)]
struct EventData {
    object: serde_json::Value,
}

#[derive(Deserialize)]
struct IntentInEvent {
    id: PaymentIntentId,
    status: PaymentIntentStatus,
    #[serde(default)]
    metadata: Metadata,
}

fn parse_event(body: &[u8]) -> Result<WebhookEvent, WebhookError> {
    let malformed = |error: serde_json::Error| WebhookError::MalformedEvent(error.to_string());
    let event: EventBody = serde_json::from_slice(body).map_err(malformed)?;
    let valid_id = event.id.len() <= 255
        && !event.id.is_empty()
        && event
            .id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if !valid_id {
        return Err(WebhookError::MalformedEvent(format!(
            "{:?} is not an event id",
            event.id
        )));
    }
    let payment_intent = match event.data.object.get("object").and_then(|o| o.as_str()) {
        Some("payment_intent") => {
            let intent: IntentInEvent =
                serde_json::from_value(event.data.object).map_err(malformed)?;
            Some(PaymentIntentChange {
                order_code: order_code_in(&intent.metadata),
                id: intent.id,
                status: intent.status,
            })
        }
        _ => None,
    };
    Ok(WebhookEvent {
        id: event.id,
        kind: event.kind,
        payment_intent,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "whsec_coffee_radar_test";
    const SIGNED_AT: u64 = 1_796_000_000;
    const BODY: &[u8] = br#"{"id":"evt_1","type":"payment_intent.succeeded","data":{"object":{"id":"pi_123","object":"payment_intent","status":"succeeded","metadata":{"order_code":"KNKUJ1"}}}}"#;

    fn verifier() -> WebhookVerifier {
        WebhookVerifier::with_secret(SECRET, Duration::from_secs(300))
    }

    fn at(seconds: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(seconds)
    }

    fn good_header() -> String {
        signature_header(SECRET, SIGNED_AT, BODY)
    }

    #[test]
    fn a_body_signed_with_our_secret_gives_its_event() {
        let event = verifier()
            .event(&good_header(), BODY, at(SIGNED_AT + 10))
            .unwrap();
        assert_eq!(
            event,
            WebhookEvent {
                id: "evt_1".into(),
                kind: "payment_intent.succeeded".into(),
                payment_intent: Some(PaymentIntentChange {
                    id: PaymentIntentId::parse("pi_123").unwrap(),
                    status: PaymentIntentStatus::Succeeded,
                    order_code: OrderCode::parse("KNKUJ1"),
                }),
            }
        );
    }

    #[test]
    fn a_signature_made_with_another_secret_is_refused() {
        let header = signature_header("whsec_someone_else", SIGNED_AT, BODY);
        assert_eq!(
            verifier().verify(&header, BODY, at(SIGNED_AT)),
            Err(WebhookError::NoMatchingSignature)
        );
    }

    #[test]
    fn a_body_changed_after_signing_is_refused() {
        let tampered = String::from_utf8(BODY.to_vec())
            .unwrap()
            .replace("succeeded", "canceled");
        assert_eq!(
            verifier().verify(&good_header(), tampered.as_bytes(), at(SIGNED_AT)),
            Err(WebhookError::NoMatchingSignature)
        );
    }

    #[test]
    fn the_timestamp_is_part_of_what_is_signed() {
        let header = good_header().replace(&SIGNED_AT.to_string(), &(SIGNED_AT + 1).to_string());
        assert_eq!(
            verifier().verify(&header, BODY, at(SIGNED_AT)),
            Err(WebhookError::NoMatchingSignature)
        );
    }

    #[test]
    fn a_signature_older_or_newer_than_the_tolerance_is_refused() {
        let header = good_header();
        for now in [SIGNED_AT + 300, SIGNED_AT - 300] {
            assert_eq!(verifier().verify(&header, BODY, at(now)), Ok(()), "{now}");
        }
        for now in [SIGNED_AT + 301, SIGNED_AT - 301] {
            assert_eq!(
                verifier().verify(&header, BODY, at(now)),
                Err(WebhookError::OutsideTolerance(300)),
                "{now}"
            );
        }
    }

    #[test]
    fn one_matching_v1_among_several_is_enough_and_other_schemes_are_ignored() {
        let good = good_header();
        let good_v1 = good.split_once(",v1=").unwrap().1;
        let bad_v1 = "0".repeat(64);
        let header = format!("t={SIGNED_AT},v0={good_v1},v1={bad_v1},v1=zz, v1={good_v1}");
        assert_eq!(verifier().verify(&header, BODY, at(SIGNED_AT)), Ok(()));

        let only_v0 = format!("t={SIGNED_AT},v0={good_v1},v1={bad_v1}");
        assert_eq!(
            verifier().verify(&only_v0, BODY, at(SIGNED_AT)),
            Err(WebhookError::NoMatchingSignature)
        );
    }

    #[test]
    fn malformed_headers_are_refused_with_what_is_wrong() {
        let v1 = "0".repeat(64);
        for (header, problem) in [
            ("", "expected key=value items"),
            ("garbage", "expected key=value items"),
            (&format!("v1={v1}") as &str, "no timestamp (t=)"),
            (&format!("t=soon,v1={v1}"), "the timestamp is no number"),
            (&format!("t=-5,v1={v1}"), "the timestamp is no number"),
            (&format!("t=1,t=2,v1={v1}"), "more than one timestamp"),
            (&format!("t={SIGNED_AT}"), "no v1 signature"),
            (&format!("t={SIGNED_AT},v0={v1}"), "no v1 signature"),
        ] {
            assert_eq!(
                verifier().verify(header, BODY, at(SIGNED_AT)),
                Err(WebhookError::MalformedHeader(problem)),
                "{header:?}"
            );
        }
    }

    #[test]
    fn a_signed_event_about_something_else_has_no_payment_intent() {
        let body = br#"{"id":"evt_2","type":"charge.refunded","data":{"object":{"id":"ch_1","object":"charge"}}}"#;
        let header = signature_header(SECRET, SIGNED_AT, body);
        let event = verifier().event(&header, body, at(SIGNED_AT)).unwrap();
        assert_eq!(event.kind, "charge.refunded");
        assert_eq!(event.payment_intent, None);
    }

    #[test]
    fn a_signed_body_that_is_no_event_is_refused() {
        for body in [
            &b"not json"[..],
            br#"{"id":"evt_3","type":"payment_intent.succeeded"}"#,
            br#"{"id":"evt 3; drop","type":"x","data":{"object":{}}}"#,
            br#"{"id":"evt_4","type":"payment_intent.succeeded","data":{"object":{"id":"pi_1","object":"payment_intent","status":"paid"}}}"#,
            br#"{"id":"evt_5","type":"payment_intent.succeeded","data":{"object":{"id":"../x","object":"payment_intent","status":"succeeded"}}}"#,
        ] {
            let header = signature_header(SECRET, SIGNED_AT, body);
            let result = verifier().event(&header, body, at(SIGNED_AT));
            assert!(
                matches!(result, Err(WebhookError::MalformedEvent(_))),
                "{}: {result:?}",
                String::from_utf8_lossy(body)
            );
        }
    }
}
