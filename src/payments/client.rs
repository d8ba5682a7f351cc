//! The Stripe API calls checkout makes: create a PaymentIntent for an order, pay one with
//! the card the shopper's browser gave Stripe.js, look one up, refund one.
//!
//! Requests are form-encoded with the secret key as HTTP basic auth, as Stripe's API wants;
//! each creation carries an `Idempotency-Key`, so that a retried checkout gets the intent
//! (or refund) the first try made instead of a second one. Every call is bounded by
//! STRIPE_TIMEOUT_MS.

use reqwest::header::{CONTENT_TYPE, HeaderValue};
use reqwest::{Method, StatusCode};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::{
    Metadata, ORDER_CODE_METADATA, PaymentIntentId, PaymentIntentStatus, PaymentMethodId,
    order_code_in,
};
use crate::config::StripeConfig;
use crate::domain::{Cents, OrderCode};

/// Why a call to the provider gave no answer to act on.
#[derive(Debug, thiserror::Error)]
pub enum PaymentError {
    /// The provider could not be reached, did not answer in time, is overloaded (429, 5xx)
    /// or still busy with the same idempotency key (409): nothing is known, and the same
    /// call may be made again (checkout answers 503).
    #[error("the payment provider is not answering ({0}); try again in a moment")]
    Unavailable(String),
    /// The provider answered and said no, such as a declined card: its message is for the
    /// shopper.
    #[error("{message}")]
    Refused {
        status: u16,
        code: Option<String>,
        message: String,
    },
    /// A request this version cannot make, or an answer it cannot read: a bug to log.
    #[error("unexpected exchange with the payment provider: {0}")]
    Unexpected(String),
}

/// A PaymentIntent as the provider has it now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentIntent {
    pub id: PaymentIntentId,
    pub status: PaymentIntentStatus,
    pub amount: Cents,
    pub currency: String,
    /// Our order code, from the intent's metadata.
    pub order_code: Option<OrderCode>,
    /// What the shopper's browser needs to confirm the payment with Stripe.js.
    pub client_secret: String,
    /// Why the last attempt failed (a declined card), for the shopper.
    pub last_error: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefundStatus {
    Pending,
    RequiresAction,
    Succeeded,
    Failed,
    Canceled,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refund {
    pub id: String,
    pub status: RefundStatus,
    pub amount: Cents,
}

/// Calls to Stripe's API with the shop's secret key.
#[derive(Clone)]
pub struct StripeClient {
    http: reqwest::Client,
    api_base: url::Url,
    secret_key: String,
    currency: String,
}

impl StripeClient {
    pub fn new(config: &StripeConfig) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout)
            .user_agent(concat!("coffee-radar/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self {
            http,
            api_base: config.api_base.clone(),
            secret_key: config.secret_key.clone(),
            currency: config.currency.clone(),
        })
    }

    /// Where the provider's API answers.
    pub fn api_base(&self) -> &url::Url {
        &self.api_base
    }

    /// A PaymentIntent for `amount` in the shop's currency, by card, tagged with the order.
    /// The same `idempotency_key` (one per order and attempt) gives the same intent again.
    pub async fn create_payment_intent(
        &self,
        amount: Cents,
        order: &OrderCode,
        idempotency_key: &str,
    ) -> Result<PaymentIntent, PaymentError> {
        let amount = amount.get().to_string();
        let form = [
            ("amount", amount.as_str()),
            ("currency", self.currency.as_str()),
            ("payment_method_types[]", "card"),
            (&format!("metadata[{ORDER_CODE_METADATA}]"), order.as_str()),
        ];
        let intent: IntentBody = self
            .call(
                Method::POST,
                "/v1/payment_intents",
                &form,
                Some(idempotency_key),
            )
            .await?;
        Ok(intent.into())
    }

    /// Sets the card on the intent and confirms it, as Stripe.js would in the browser. A
    /// declined card is `Refused` with the provider's message (402); a card that asks for
    /// 3-D Secure leaves the intent `RequiresAction` for Stripe.js to finish. Confirming is
    /// not repeated on a lost answer: the caller asks for the intent instead.
    pub async fn confirm_payment_intent(
        &self,
        id: &PaymentIntentId,
        card: &PaymentMethodId,
    ) -> Result<PaymentIntent, PaymentError> {
        let path = format!("/v1/payment_intents/{id}");
        let _: IntentBody = self
            .call(
                Method::POST,
                &path,
                &[("payment_method", card.as_str())],
                None,
            )
            .await?;
        let intent: IntentBody = self
            .call(Method::POST, &format!("{path}/confirm"), &[], None)
            .await?;
        Ok(intent.into())
    }

    pub async fn retrieve_payment_intent(
        &self,
        id: &PaymentIntentId,
    ) -> Result<PaymentIntent, PaymentError> {
        let path = format!("/v1/payment_intents/{id}");
        let intent: IntentBody = self.call(Method::GET, &path, &[], None).await?;
        Ok(intent.into())
    }

    /// Gives the whole amount of a succeeded PaymentIntent back.
    pub async fn refund_payment_intent(
        &self,
        id: &PaymentIntentId,
        idempotency_key: &str,
    ) -> Result<Refund, PaymentError> {
        let form = [("payment_intent", id.as_str())];
        let refund: RefundBody = self
            .call(Method::POST, "/v1/refunds", &form, Some(idempotency_key))
            .await?;
        Ok(Refund {
            id: refund.id,
            status: refund.status,
            amount: Cents::new(refund.amount),
        })
    }

    async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        form: &[(&str, &str)],
        idempotency_key: Option<&str>,
    ) -> Result<T, PaymentError> {
        let mut request = self
            .http
            .request(
                method,
                format!("{}{path}", self.api_base.as_str().trim_end_matches('/')),
            )
            .basic_auth(&self.secret_key, None::<&str>);
        if !form.is_empty() {
            let body = serde_urlencoded::to_string(form).expect("pairs of strings encode");
            request = request
                .header(
                    CONTENT_TYPE,
                    HeaderValue::from_static("application/x-www-form-urlencoded"),
                )
                .body(body);
        }
        if let Some(key) = idempotency_key {
            let key = HeaderValue::from_str(key).map_err(|_| {
                PaymentError::Unexpected(format!("{key:?} cannot be an idempotency key"))
            })?;
            request = request.header("Idempotency-Key", key);
        }
        let response = request.send().await.map_err(unavailable)?;
        let status = response.status();
        let body = response.bytes().await.map_err(unavailable)?;
        if status.is_success() {
            return serde_json::from_slice(&body)
                .map_err(|error| PaymentError::Unexpected(error.to_string()));
        }
        if status == StatusCode::TOO_MANY_REQUESTS
            || status == StatusCode::CONFLICT
            || status.is_server_error()
        {
            return Err(PaymentError::Unavailable(format!("it answered {status}")));
        }
        let error = serde_json::from_slice::<ErrorBody>(&body)
            .map(|body| body.error)
            .unwrap_or_default();
        Err(PaymentError::Refused {
            status: status.as_u16(),
            code: error.code,
            message: error
                .message
                .unwrap_or_else(|| format!("The payment provider refused the request ({status}).")),
        })
    }
}

fn unavailable(error: reqwest::Error) -> PaymentError {
    let reason = if error.is_timeout() {
        "no answer in time".to_owned()
    } else if error.is_connect() {
        "cannot connect".to_owned()
    } else {
        error.to_string()
    };
    PaymentError::Unavailable(reason)
}

#[derive(Deserialize)]
struct IntentBody {
    id: PaymentIntentId,
    status: PaymentIntentStatus,
    amount: i64,
    currency: String,
    client_secret: String,
    #[serde(default)]
    metadata: Metadata,
    last_payment_error: Option<ProviderError>,
}

impl From<IntentBody> for PaymentIntent {
    fn from(body: IntentBody) -> Self {
        Self {
            order_code: order_code_in(&body.metadata),
            last_error: body.last_payment_error.and_then(|e| e.message.or(e.code)),
            id: body.id,
            status: body.status,
            amount: Cents::new(body.amount),
            currency: body.currency,
            client_secret: body.client_secret,
        }
    }
}

#[derive(Deserialize)]
struct RefundBody {
    id: String,
    status: RefundStatus,
    amount: i64,
}

#[derive(Deserialize)]
struct ErrorBody {
    error: ProviderError,
}

#[derive(Default, Deserialize)]
struct ProviderError {
    code: Option<String>,
    message: Option<String>,
}
