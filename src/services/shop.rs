//! The cart, checkout and orders.

use crate::app::AppState;
use crate::db::cart::{CartLine, CartOwner};
use crate::db::orders::{Checkout, Order, Placed};
use crate::db::users::UserRow;
use crate::domain::{Address, OrderCode, Quantity};
use crate::error::{AppError, AppResult};
use crate::events::{Event, EventKind};
use crate::ops;

/// Adds `quantity` of a variant to the cart (on top of what is there), within the stock.
pub async fn add_to_cart(
    state: &AppState,
    owner: &CartOwner,
    variant_id: i64,
    quantity: i64,
) -> AppResult<()> {
    let quantity = Quantity::parse(quantity).map_err(|m| AppError::invalid("quantity", m))?;
    let already = state.db.cart_quantity(owner, variant_id).await?;
    // A valid quantity that would take the cart past the most of one item is a conflict
    // with the cart, as a shortage of stock is.
    let total = Quantity::parse(already + quantity.get()).map_err(|_| {
        AppError::Conflict(format!(
            "Your cart already holds {already} of this item, and one order takes at most {}.",
            Quantity::MAX
        ))
    })?;
    set_quantity_checked(state, owner, variant_id, total.get()).await?;
    let user_id = match owner {
        CartOwner::User(id) => Some(*id),
        CartOwner::Guest(_) => None,
    };
    state.events.record(
        Event::new(EventKind::AddToCart)
            .user(user_id)
            .variant(variant_id),
    );
    Ok(())
}

/// Sets the quantity of a variant in the cart, within the stock.
pub async fn set_cart_quantity(
    state: &AppState,
    owner: &CartOwner,
    variant_id: i64,
    quantity: i64,
) -> AppResult<()> {
    if state.db.cart_quantity(owner, variant_id).await? == 0 {
        return Err(AppError::not_found("That item in your cart"));
    }
    set_quantity_checked(state, owner, variant_id, quantity).await
}

async fn set_quantity_checked(
    state: &AppState,
    owner: &CartOwner,
    variant_id: i64,
    quantity: i64,
) -> AppResult<()> {
    let quantity = Quantity::parse(quantity).map_err(|m| AppError::invalid("quantity", m))?;
    let variant = state
        .db
        .variant_by_id(variant_id)
        .await?
        .ok_or_else(|| AppError::not_found("That product variant"))?;
    if variant.stock < quantity.get() {
        let message = match variant.stock {
            0 => "Sorry, that one is sold out.".to_owned(),
            n => format!("Only {n} left in stock."),
        };
        return Err(AppError::Conflict(message));
    }
    state
        .db
        .set_cart_quantity(owner, variant_id, quantity)
        .await
}

pub async fn remove_from_cart(
    state: &AppState,
    owner: &CartOwner,
    variant_id: i64,
) -> AppResult<()> {
    if state.db.remove_cart_line(owner, variant_id).await? {
        Ok(())
    } else {
        Err(AppError::not_found("That item in your cart"))
    }
}

pub async fn cart(state: &AppState, owner: Option<&CartOwner>) -> AppResult<Vec<CartLine>> {
    match owner {
        Some(owner) => state.db.cart_lines(owner).await,
        None => Ok(Vec::new()),
    }
}

/// Places the user's cart as an order, shipped to `address` or else the profile's address.
/// Returns the order and whether it is new (false when the idempotency key was seen before).
pub async fn checkout(
    state: &AppState,
    user: &UserRow,
    address: Option<&str>,
    idempotency_key: Option<&str>,
) -> AppResult<(Order, bool)> {
    if let Some(key) = idempotency_key
        && (key.is_empty() || key.len() > 100 || !key.bytes().all(|b| b.is_ascii_graphic()))
    {
        return Err(AppError::BadRequest(
            "The Idempotency-Key must be 1 to 100 visible ASCII characters.".into(),
        ));
    }
    let address = match address.map(str::trim).filter(|a| !a.is_empty()) {
        Some(address) => Address::parse(address),
        None => Address::parse(user.address.as_deref().unwrap_or_default()),
    }
    .map_err(|m| AppError::invalid("shipping_address", m))?;
    state
        .events
        .record(Event::new(EventKind::CheckoutStarted).user(Some(user.id)));
    let placed = state
        .db
        .place_order(&Checkout {
            user_id: user.id,
            username: &user.username,
            shipping_address: &address,
            idempotency_key,
        })
        .await?;
    Ok(match placed {
        Placed::New(order) => {
            state
                .events
                .record(Event::new(EventKind::CheckoutCompleted).user(Some(user.id)));
            state.catalog.invalidate();
            ops::metrics::order_placed();
            send_confirmation(state, user, &order);
            (order, true)
        }
        Placed::Replayed(order) => (order, false),
    })
}

fn send_confirmation(state: &AppState, user: &UserRow, order: &Order) {
    let lines: String = order
        .lines
        .iter()
        .map(|l| {
            format!(
                "  {} × {} ({}, {}) at {} = {}\n",
                l.quantity,
                l.product_name,
                l.color,
                l.size,
                l.unit_price(),
                l.line_total()
            )
        })
        .collect();
    let body = format!(
        "Hello {},\n\nThank you for your order {}.\n\n{lines}\nTotal: {}\n\nShipping to:\n{}\n\n\
         See it any time at {}/orders/{}\n\n— Coffee Radar\n",
        user.first_name,
        order.order.code,
        order.order.total(),
        order.order.shipping_address,
        state.config.public_url,
        order.order.code
    );
    state.mailer.send_in_background(
        user.email.clone(),
        format!("Your Coffee Radar order {}", order.order.code),
        body,
    );
}

/// A shopper's own order; anyone else's is "not found", never "forbidden", so codes
/// cannot be probed.
pub async fn own_order(state: &AppState, user: &UserRow, code: &str) -> AppResult<Order> {
    let code = OrderCode::parse(code).ok_or_else(|| AppError::not_found("That order"))?;
    state
        .db
        .order_by_code(&code, Some(user.id))
        .await?
        .ok_or_else(|| AppError::not_found("That order"))
}

pub async fn cancel_own_order(state: &AppState, user: &UserRow, code: &str) -> AppResult<Order> {
    let order = own_order(state, user, code).await?;
    cancel(state, &order).await?;
    own_order(state, user, code).await
}

/// Cancels an order that has not shipped, returning its stock (for its shopper or staff).
pub async fn cancel(state: &AppState, order: &Order) -> AppResult<()> {
    state.db.cancel_order(order.order.id).await?;
    state.catalog.invalidate();
    state
        .events
        .record(Event::new(EventKind::OrderCancelled).user(order.order.user_id));
    Ok(())
}
