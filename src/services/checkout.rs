//! Checkout: delivery options, discount codes, the quote, and placing the order. The
//! quote and the order are priced by the same rules ([`crate::domain::pricing`]); the
//! order is priced again inside its transaction, from the cart as it is then.

use super::Services;
use super::notices::{self, OrderNews, Recipient};
use super::payments::{self, PaymentStart};
use crate::db::cart::{CartLine, CartOwner, cart_total};
use crate::db::checkout::{DeliveryOption, DiscountCode};
use crate::db::now_ms;
use crate::db::orders::{Buyer, Checkout, Destination, Order, Placed};
use crate::db::places::PlaceRow;
use crate::db::users::UserRow;
use crate::domain::address::{AddressFields, ShippingAddress};
use crate::domain::checkout::{DiscountCodeName, PaymentMethod};
use crate::domain::pricing::{PriceTerms, Totals};
use crate::domain::{Address, Email, FieldErrors, OrderStatus};
use crate::error::{AppError, AppResult};
use crate::events::{Event, EventKind};
use crate::ops;

/// What the shopper chose at checkout; everything may be left out.
#[derive(Debug, Clone, Default)]
pub struct Choice<'a> {
    /// A delivery option's id; none: the first one offered that ships.
    pub delivery_option: Option<i64>,
    pub coupon: Option<&'a str>,
    /// Where to ship; none: the address saved in the profile.
    pub address: Option<&'a AddressFields>,
    /// A free-text address, as the API took before structured addresses.
    pub address_text: Option<&'a str>,
    /// For a pick-up option: the coffee place of the Radar.
    pub pickup_place: Option<i64>,
    pub payment_method: Option<PaymentMethod>,
    /// Keep `address` in the profile for the next time.
    pub save_address: bool,
}

/// The delivery options shoppers may choose, in the order they are offered.
pub async fn delivery_options(services: &Services) -> AppResult<Vec<DeliveryOption>> {
    services.db.delivery_options(false).await
}

/// What the cart of `owner` would cost with these choices.
pub async fn quote(
    services: &Services,
    owner: Option<&CartOwner>,
    choice: &Choice<'_>,
) -> AppResult<Totals> {
    let lines = match owner {
        Some(owner) => services.db.cart_lines(owner).await?,
        None => Vec::new(),
    };
    quote_lines(services, &lines, choice).await
}

/// What these cart lines would cost with these choices, for a caller that has them.
pub async fn quote_lines(
    services: &Services,
    lines: &[CartLine],
    choice: &Choice<'_>,
) -> AppResult<Totals> {
    let delivery = chosen_delivery(services, choice.delivery_option).await?;
    price(services, lines, &delivery, choice.coupon).await
}

/// What the lines cost delivered by `delivery`, with the discount code typed, if any.
async fn price(
    services: &Services,
    lines: &[CartLine],
    delivery: &DeliveryOption,
    coupon: Option<&str>,
) -> AppResult<Totals> {
    let subtotal = cart_total(lines);
    let discount = match discount_code(services, coupon).await? {
        Some(code) => Some(
            code.rule
                .applies(subtotal, now_ms())
                .map_err(|m| AppError::invalid("coupon", m))?,
        ),
        None => None,
    };
    let pricing = services.settings.pricing;
    Ok(Totals::compute(
        subtotal,
        &PriceTerms {
            delivery: delivery.price(),
            free_delivery_from: pricing.free_delivery_from,
            discount,
            tax: pricing.tax,
        },
    ))
}

/// What a cart costs before anything is chosen, as checkout first prices it: the first
/// delivery option that ships, no discount, the shop's tax.
pub struct Estimate {
    pub totals: Totals,
    /// The delivery option the figure is for.
    pub delivery: DeliveryOption,
}

/// The cart page's figures; none when no delivery option ships (checkout then asks).
pub async fn estimate(services: &Services, lines: &[CartLine]) -> AppResult<Option<Estimate>> {
    let delivery = match chosen_delivery(services, None).await {
        Ok(delivery) => delivery,
        Err(AppError::Invalid(_)) => return Ok(None),
        Err(other) => return Err(other),
    };
    let totals = price(services, lines, &delivery, None).await?;
    Ok(Some(Estimate { totals, delivery }))
}

/// An order just placed (or found again by its idempotency key).
#[derive(Debug)]
pub struct PlacedOrder {
    pub order: Order,
    /// False when the idempotency key was seen before: the first order is returned, and
    /// nothing is taken or charged twice.
    pub new: bool,
    /// For a card payment: what the browser needs to pay it.
    pub payment: Option<PaymentStart>,
}

/// Who checks out: a signed-in shopper, or a guest with the email the order's news goes to.
#[derive(Debug, Clone, Copy)]
pub enum Shopper<'a> {
    Account(&'a UserRow),
    /// A visitor without an account: the guest session that holds the cart, and the email
    /// as typed (checked here).
    Guest {
        session_id: &'a str,
        email: &'a str,
    },
}

impl Shopper<'_> {
    fn user(&self) -> Option<&UserRow> {
        match self {
            Self::Account(user) => Some(user),
            Self::Guest { .. } => None,
        }
    }
}

/// The shopper, with a guest's email checked.
enum Who<'a> {
    Account(&'a UserRow),
    Guest { session_id: &'a str, email: Email },
}

/// Places the shopper's cart as an order. A card order awaits payment, holding its stock,
/// and comes with a PaymentIntent to pay it with; if the provider cannot be reached, the
/// order still awaits payment and the same request (same idempotency key) tries again.
pub async fn place_order(
    services: &Services,
    shopper: Shopper<'_>,
    choice: &Choice<'_>,
    idempotency_key: Option<&str>,
) -> AppResult<PlacedOrder> {
    if let Some(key) = idempotency_key
        && (key.is_empty() || key.len() > 100 || !key.bytes().all(|b| b.is_ascii_graphic()))
    {
        return Err(AppError::BadRequest(
            "The Idempotency-Key must be 1 to 100 visible ASCII characters.".into(),
        ));
    }
    let payment_method = choice.payment_method.unwrap_or(PaymentMethod::OnDelivery);
    let hold_until = match payment_method {
        PaymentMethod::OnDelivery => None,
        PaymentMethod::Stripe => Some(payments::hold_until(services)?),
    };
    let who = match shopper {
        Shopper::Account(user) => Who::Account(user),
        Shopper::Guest { session_id, email } => Who::Guest {
            session_id,
            email: Email::parse(email).map_err(|m| AppError::invalid("email", m))?,
        },
    };
    let delivery = chosen_delivery(services, choice.delivery_option).await?;
    let discount = discount_code(services, choice.coupon).await?;
    let destination = destination(services, shopper.user(), &delivery, choice).await?;
    let user_id = shopper.user().map(|u| u.id);
    services.record(Event::new(EventKind::CheckoutStarted).user(user_id));
    // A guest opens the order from anywhere with the key in the confirmation mail's link.
    let access_key = crate::domain::token::new_token();
    let access_key_hash = crate::domain::token::token_hash(&access_key);
    let buyer = match &who {
        Who::Account(user) => Buyer::Account {
            user_id: user.id,
            username: &user.username,
        },
        Who::Guest { session_id, email } => Buyer::Guest {
            session_id,
            email: email.as_str(),
            access_key_hash: &access_key_hash,
        },
    };
    let placed = services
        .db
        .place_order(&Checkout {
            buyer: &buyer,
            destination: destination.as_destination(),
            delivery: &delivery,
            discount: discount.as_ref(),
            pricing: services.settings.pricing,
            payment_method,
            hold_until,
            idempotency_key,
        })
        .await?;
    let (order, new) = match placed {
        Placed::New(order) => {
            if choice.save_address
                && let (Some(user), Resolved::Ship(address)) = (shopper.user(), &destination)
            {
                services.db.save_address(user.id, address).await?;
            }
            services.record(Event::new(EventKind::CheckoutCompleted).user(user_id));
            services.catalog.invalidate();
            ops::metrics::order_placed();
            match &who {
                Who::Account(user) => {
                    let link = notices::order_link(services, &order);
                    notices::tell(
                        services,
                        (*user).into(),
                        &order,
                        OrderNews::Placed,
                        Some(link),
                    );
                }
                Who::Guest { email, .. } => {
                    let to = Recipient {
                        name: destination.name().unwrap_or(notices::GUEST_GREETING),
                        email: email.as_str(),
                    };
                    let link = notices::guest_order_link(services, &order, &access_key);
                    notices::tell(services, to, &order, OrderNews::Placed, Some(link));
                }
            }
            (order, true)
        }
        Placed::Replayed(order) => (order, false),
    };
    let payment = match order.order.status {
        OrderStatus::AwaitingPayment => Some(payments::start(services, &order.order).await?),
        _ => None,
    };
    Ok(PlacedOrder {
        order,
        new,
        payment,
    })
}

/// The address saved in the shopper's profile, if it is still a valid one.
pub async fn saved_address(
    services: &Services,
    user: &UserRow,
) -> AppResult<Option<ShippingAddress>> {
    Ok(services
        .db
        .saved_address(user.id)
        .await?
        .and_then(|fields| ShippingAddress::parse(&fields, "").ok()))
}

/// The coffee places an order may be picked up at.
pub async fn pickup_places(services: &Services) -> AppResult<Vec<PlaceRow>> {
    services.db.places().await
}

async fn chosen_delivery(services: &Services, id: Option<i64>) -> AppResult<DeliveryOption> {
    let offered = delivery_options(services).await?;
    let chosen = match id {
        Some(id) => offered.into_iter().find(|o| o.id == id),
        None => offered.into_iter().find(|o| !o.pickup),
    };
    chosen.ok_or_else(|| {
        AppError::invalid(
            "delivery_option",
            "Choose one of the delivery options offered.",
        )
    })
}

async fn discount_code(
    services: &Services,
    coupon: Option<&str>,
) -> AppResult<Option<DiscountCode>> {
    let Some(coupon) = coupon.map(str::trim).filter(|c| !c.is_empty()) else {
        return Ok(None);
    };
    let unknown = || AppError::invalid("coupon", "There is no discount code like that.");
    let name = DiscountCodeName::parse(coupon).map_err(|_| unknown())?;
    services
        .db
        .discount_code(name.as_str())
        .await?
        .map(Some)
        .ok_or_else(unknown)
}

/// Where the order goes, as decided from the choice and the profile.
enum Resolved {
    Ship(ShippingAddress),
    Text(Address),
    PickUp(PlaceRow),
}

impl Resolved {
    /// The name the order is addressed to, when it ships.
    fn name(&self) -> Option<&str> {
        match self {
            Self::Ship(address) => Some(address.name()),
            Self::Text(_) | Self::PickUp(_) => None,
        }
    }

    fn as_destination(&self) -> Destination<'_> {
        match self {
            Self::Ship(address) => Destination::Ship(address),
            Self::Text(address) => Destination::Text(address),
            Self::PickUp(place) => Destination::PickUp(place),
        }
    }
}

async fn destination(
    services: &Services,
    user: Option<&UserRow>,
    delivery: &DeliveryOption,
    choice: &Choice<'_>,
) -> AppResult<Resolved> {
    if delivery.pickup {
        let place = match choice.pickup_place {
            Some(id) => pickup_places(services)
                .await?
                .into_iter()
                .find(|p| p.id == id),
            None => None,
        };
        return place.map(Resolved::PickUp).ok_or_else(|| {
            AppError::invalid(
                "pickup_place",
                "Choose the coffee place to pick the order up at.",
            )
        });
    }
    if let Some(fields) = choice.address {
        return ShippingAddress::parse(fields, "address.")
            .map(Resolved::Ship)
            .map_err(AppError::Invalid);
    }
    if let Some(text) = choice.address_text.map(str::trim).filter(|t| !t.is_empty()) {
        return Address::parse(text)
            .map(Resolved::Text)
            .map_err(|m| AppError::invalid("shipping_address", m));
    }
    let Some(user) = user else {
        return Err(AppError::Invalid(FieldErrors::single(
            "address.line1",
            "Give the address to deliver to.",
        )));
    };
    if let Some(saved) = saved_address(services, user).await? {
        return Ok(Resolved::Ship(saved));
    }
    match user.address.as_deref().map(Address::parse) {
        Some(Ok(address)) => Ok(Resolved::Text(address)),
        _ => Err(AppError::Invalid(FieldErrors::single(
            "address.line1",
            "Give the address to deliver to.",
        ))),
    }
}
