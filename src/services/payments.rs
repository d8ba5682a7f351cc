//! Card payment through Stripe, around an order: starting a payment, learning that it
//! succeeded or failed (from the shopper's browser reporting back, a signed webhook, or
//! the reconciler asking), refunds, and releasing orders nobody paid.
//!
//! The provider is the source of truth. An order moves to paid only when the server has
//! itself seen its PaymentIntent succeed for the order's amount: from the provider's
//! answer to our own request, or from a webhook whose signature proves it is the
//! provider's. Every step is a guarded update, so the browser, the webhook and the
//! reconcilers of every instance may all see the same success and only one moves the
//! order. A payment that succeeds after its order was released takes the stock again if
//! it is there, and is refunded if it is not: it is never lost, and nothing is oversold.

use std::time::{Duration, SystemTime};

use super::Services;
use super::notices::OrderNews;
use crate::db::now_ms;
use crate::db::orders::{Order, OrderRow};
use crate::domain::checkout::PaymentMethod;
use crate::domain::{OrderCode, OrderStatus};
use crate::error::{AppError, AppResult};
use crate::payments::{
    PaymentError, PaymentIntent, PaymentIntentId, PaymentIntentStatus, PaymentMethodId,
    StripeClient, WebhookVerifier,
};

/// The shop's Stripe account, when card payment is on.
pub struct Payments {
    pub client: StripeClient,
    pub verifier: WebhookVerifier,
    pub publishable_key: String,
    /// Where the pay page loads Stripe.js from.
    pub js_url: url::Url,
    /// How long an order awaiting payment holds its stock.
    pub hold: Duration,
}

/// What the shopper's browser needs to pay an order with Stripe.js.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct PaymentStart {
    pub provider: &'static str,
    pub payment_intent_id: String,
    pub client_secret: String,
    pub publishable_key: String,
}

impl From<PaymentError> for AppError {
    fn from(error: PaymentError) -> Self {
        match error {
            PaymentError::Unavailable(why) => {
                tracing::warn!(%why, "the payment provider did not answer");
                AppError::Unavailable(
                    "Card payments cannot be reached just now. Try again in a moment.".into(),
                )
            }
            PaymentError::Refused {
                status, message, ..
            } if status == 402 || status == 400 => AppError::invalid("payment", message),
            other => AppError::Internal(anyhow::anyhow!("payment provider: {other}")),
        }
    }
}

impl Services {
    pub(super) fn payments(&self) -> AppResult<&Payments> {
        self.payments.as_deref().ok_or_else(|| {
            AppError::invalid(
                "payment_method",
                "This shop takes payment on delivery only; card payment is not set up.",
            )
        })
    }

    /// Whether shoppers may pay by card.
    pub fn takes_cards(&self) -> bool {
        self.payments.is_some()
    }

    /// The Stripe publishable key, for pages that load Stripe.js.
    pub fn publishable_key(&self) -> Option<&str> {
        self.payments.as_deref().map(|p| p.publishable_key.as_str())
    }

    /// What a page that takes a card needs: Stripe.js, and whom it talks to.
    pub fn card_form(&self) -> Option<CardForm> {
        self.payments.as_deref().map(|p| CardForm {
            publishable_key: p.publishable_key.clone(),
            script: p.js_url.clone(),
            api: p.client.api_base().clone(),
        })
    }
}

/// Stripe.js for a page that takes a card: where it is loaded from and the provider's API it
/// talks to, which that page's Content-Security-Policy allows (and no other page's).
#[derive(Debug, Clone)]
pub struct CardForm {
    pub publishable_key: String,
    pub script: url::Url,
    pub api: url::Url,
}

/// How paying with a card ended, for the pay page.
#[derive(Debug)]
pub enum PayOutcome {
    /// The provider says the money moved; the order is paid.
    Paid,
    /// The card asks for 3-D Secure: Stripe.js finishes with this client secret, then the
    /// page asks us to check.
    Authenticate { client_secret: String },
    /// The provider said no: its message, for the shopper, who may try another card.
    Declined(String),
}

/// Until when a new card order holds its stock.
pub(super) fn hold_until(services: &Services) -> AppResult<i64> {
    let hold = services.payments()?.hold;
    Ok(now_ms() + hold.as_millis() as i64)
}

/// The PaymentIntent the shopper pays the order with: the order's current one, or a new
/// one when there is none yet or the last attempt was declined (a declined intent cannot
/// be paid with another card). Safe to call again: each attempt has its own idempotency
/// key, so a retry after a lost answer gets the same intent.
pub async fn start(services: &Services, order: &OrderRow) -> AppResult<PaymentStart> {
    let current = current_intent(services, order).await?;
    start_from(services, order, current).await
}

/// [`start`], given the order's current intent as the provider has just told it (see
/// [`check`]), so that it is not asked twice.
pub async fn start_from(
    services: &Services,
    order: &OrderRow,
    current: Option<PaymentIntent>,
) -> AppResult<PaymentStart> {
    let intent = intent_to_pay(services, order, current).await?;
    Ok(PaymentStart {
        provider: "stripe",
        payment_intent_id: intent.id.as_str().to_owned(),
        client_secret: intent.client_secret,
        publishable_key: services.payments()?.publishable_key.clone(),
    })
}

/// The intent the order is paid with now: `current` while it can still take a card, else a
/// new attempt's (recorded on the order).
async fn intent_to_pay(
    services: &Services,
    order: &OrderRow,
    current: Option<PaymentIntent>,
) -> AppResult<PaymentIntent> {
    let payments = services.payments()?;
    if order.status != OrderStatus::AwaitingPayment {
        return Err(AppError::Conflict(format!(
            "This order is {}: there is nothing to pay.",
            order.status
        )));
    }
    if let Some(intent) = current.filter(|intent| !needs_new_attempt(intent)) {
        return Ok(intent);
    }
    let attempt = services.db.payment_attempts(order.id).await? + 1;
    let code = order_code(order)?;
    let intent = payments
        .client
        .create_payment_intent(order.total(), &code, &format!("{}-{attempt}", order.code))
        .await?;
    services
        .db
        .set_payment_intent(order.id, intent.id.as_str(), attempt)
        .await?;
    Ok(intent)
}

/// Pays the order with the card the shopper's browser gave Stripe.js: the server itself
/// confirms the order's PaymentIntent and moves the order by what the provider answers.
pub async fn pay(
    services: &Services,
    order: &Order,
    card: &PaymentMethodId,
) -> AppResult<PayOutcome> {
    let current = current_intent(services, &order.order).await?;
    let id = intent_to_pay(services, &order.order, current).await?.id;
    let client = &services.payments()?.client;
    // Declined, or refused for another reason: what the intent says now is the truth.
    let (intent, refusal) = match client.confirm_payment_intent(&id, card).await {
        Ok(intent) => (intent, None),
        Err(PaymentError::Refused { message, .. }) => {
            (client.retrieve_payment_intent(&id).await?, Some(message))
        }
        Err(other) => return Err(other.into()),
    };
    apply(services, order, &intent).await?;
    Ok(match intent.status {
        PaymentIntentStatus::Succeeded => PayOutcome::Paid,
        PaymentIntentStatus::RequiresAction if refusal.is_none() => PayOutcome::Authenticate {
            client_secret: intent.client_secret,
        },
        _ => PayOutcome::Declined(
            intent
                .last_error
                .or(refusal)
                .unwrap_or_else(|| "The card was not accepted. Try another card.".into()),
        ),
    })
}

/// Asks the provider about the order's payment and records what it says; returns the
/// intent as the provider has it (none for an order not paid by card, or without one yet).
pub async fn check(services: &Services, order: &Order) -> AppResult<Option<PaymentIntent>> {
    if order.order.payment_method != PaymentMethod::Stripe {
        return Ok(None);
    }
    let intent = current_intent(services, &order.order).await?;
    if let Some(intent) = &intent {
        apply(services, order, intent).await?;
    }
    Ok(intent)
}

/// Handles a webhook from the provider: checks its signature, ignores an event seen
/// before, and applies a PaymentIntent's new status to its order.
pub async fn webhook(services: &Services, signature: &str, body: &[u8]) -> AppResult<()> {
    let Some(payments) = services.payments.as_deref() else {
        return Err(AppError::not_found("Card payments"));
    };
    let event = payments
        .verifier
        .event(signature, body, SystemTime::now())
        .map_err(|e| AppError::BadRequest(format!("This webhook is not from our provider: {e}")))?;
    let Some(change) = event.payment_intent else {
        return Ok(());
    };
    // Look at the intent first: an event is remembered only once it has been applied, so
    // that a failure here makes the provider send it again.
    let Some(order) = services
        .db
        .order_by_payment_intent(change.id.as_str())
        .await?
    else {
        tracing::warn!(intent = %change.id, "a webhook about a PaymentIntent of no order");
        return Ok(());
    };
    if !services.db.first_sight_of_event(&event.id).await? {
        return Ok(());
    }
    // The event says what happened; the provider, asked, says what is true now.
    let intent = payments.client.retrieve_payment_intent(&change.id).await?;
    apply(services, &order, &intent).await
}

/// Releases orders whose hold ran out unpaid, and marks paid the ones the provider says
/// are; run by every instance (see [`spawn_reconciler`]).
pub async fn reconcile(services: &Services) -> AppResult<usize> {
    let mut settled = 0;
    for row in services.db.orders_awaiting_payment(100).await? {
        let Some(order) = services.db.order_by_code(&order_code(&row)?, None).await? else {
            continue;
        };
        let intent = current_intent(services, &order.order).await?;
        if let Some(intent) = &intent {
            apply(services, &order, intent).await?;
        }
        let paid = intent.is_some_and(|i| i.status == PaymentIntentStatus::Succeeded);
        let expired = order
            .order
            .hold_until
            .is_some_and(|until| until <= now_ms());
        if !paid && expired {
            match services
                .db
                .cancel_order(order.order.id, OrderStatus::AwaitingPayment)
                .await
            {
                Ok(()) => {
                    services.catalog.invalidate();
                    tracing::info!(order = %order.order.code, "released an order nobody paid");
                    settled += 1;
                }
                // Paid or released meanwhile, by another instance or the shopper.
                Err(AppError::Conflict(_)) => {}
                Err(other) => return Err(other),
            }
        } else if paid {
            settled += 1;
        }
    }
    Ok(settled)
}

/// Runs [`reconcile`] every `every` on this instance, for as long as the process lives.
pub fn spawn_reconciler(services: Services, every: Duration) {
    if !services.takes_cards() {
        return;
    }
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(every);
        loop {
            ticker.tick().await;
            if let Err(error) = reconcile(&services).await {
                tracing::warn!(error = %error, "payment reconciliation failed; trying again later");
            }
        }
    });
}

/// Gives a card order's money back (cancelling a paid order); idempotent per order.
pub(super) async fn refund(services: &Services, order: &OrderRow) -> AppResult<()> {
    if order.payment_method != PaymentMethod::Stripe
        || order.status != OrderStatus::Paid
        || order.refunded_cents > 0
    {
        return Ok(());
    }
    match intent_id(order) {
        Some(intent) => give_back(services, order, &intent).await,
        None => Ok(()),
    }
}

/// Refunds the whole of `intent` and records it on the order. The idempotency key is the
/// order's, so a retry, or a second instance doing the same, refunds once.
async fn give_back(
    services: &Services,
    order: &OrderRow,
    intent: &PaymentIntentId,
) -> AppResult<()> {
    let refund = services
        .payments()?
        .client
        .refund_payment_intent(intent, &format!("refund-{}", order.code))
        .await?;
    services
        .db
        .record_refund(order.id, refund.amount.get())
        .await
}

/// Moves the order along what its PaymentIntent says now.
async fn apply(services: &Services, order: &Order, intent: &PaymentIntent) -> AppResult<()> {
    let row = &order.order;
    match intent.status {
        PaymentIntentStatus::Succeeded => {
            if intent.amount != row.total() {
                tracing::error!(order = %row.code, paid = %intent.amount, "a payment for another amount than the order's");
                return Ok(());
            }
            match row.status {
                OrderStatus::AwaitingPayment if services.db.mark_paid(row.id).await? => {
                    tracing::info!(order = %row.code, "paid by card");
                    super::notices::tell_shopper(services, order, OrderNews::Paid).await?;
                }
                OrderStatus::Cancelled if row.refunded_cents == 0 => {
                    late_payment(services, order, intent).await?;
                }
                _ => {}
            }
        }
        PaymentIntentStatus::RequiresPaymentMethod => {
            if let Some(message) = &intent.last_error {
                services.db.record_payment_error(row.id, message).await?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// A payment that succeeded after its order was released: the order comes back if its
/// stock is still there, else the money goes back.
async fn late_payment(services: &Services, order: &Order, intent: &PaymentIntent) -> AppResult<()> {
    if services.db.revive_as_paid(order).await? {
        services.catalog.invalidate();
        tracing::info!(order = %order.order.code, "a late payment took its order back");
        return Ok(());
    }
    give_back(services, &order.order, &intent.id).await?;
    tracing::info!(order = %order.order.code, "a late payment found its stock gone and was refunded");
    super::notices::tell_shopper(services, order, OrderNews::Refunded).await
}

async fn current_intent(services: &Services, order: &OrderRow) -> AppResult<Option<PaymentIntent>> {
    match intent_id(order) {
        Some(id) => Ok(Some(
            services
                .payments()?
                .client
                .retrieve_payment_intent(&id)
                .await?,
        )),
        None => Ok(None),
    }
}

/// A declined or cancelled intent cannot take another card: the next attempt needs its own.
fn needs_new_attempt(intent: &PaymentIntent) -> bool {
    intent.status == PaymentIntentStatus::Canceled
        || (intent.status == PaymentIntentStatus::RequiresPaymentMethod
            && intent.last_error.is_some())
}

fn intent_id(order: &OrderRow) -> Option<PaymentIntentId> {
    order
        .payment_intent_id
        .as_deref()
        .and_then(PaymentIntentId::parse)
}

fn order_code(order: &OrderRow) -> AppResult<OrderCode> {
    OrderCode::parse(&order.code)
        .ok_or_else(|| AppError::Internal(anyhow::anyhow!("stored order code {:?}", order.code)))
}
