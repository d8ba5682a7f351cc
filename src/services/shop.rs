//! The cart, checkout and orders.

use super::notices::OrderNews;
use super::{Services, accounts};
use crate::db::cart::{CartLine, CartOwner, CartSlot};
use crate::db::orders::{GuestProof, Order};
use crate::db::users::UserRow;
use crate::domain::order::{OrderLife, TimelineStep};
use crate::domain::{OrderCode, Quantity};
use crate::error::{AppError, AppResult};
use crate::events::{Event, EventKind};

/// Where an added item went: the visitor's cart, or a new guest session's cart.
pub struct Added {
    pub owner: CartOwner,
    /// The new guest session's token, for the cookie, when the visitor had no session.
    pub new_guest_token: Option<String>,
}

/// What adding to the cart did.
pub struct AddedToCart {
    /// The visitor's cart, or a new guest session's.
    pub owner: CartOwner,
    /// The new guest session's token, for the cookie, when the visitor had no session.
    pub new_guest_token: Option<String>,
    /// The cart with the item in it: the cart as read before the write, with the quantity
    /// written (no second read).
    pub cart: Vec<CartLine>,
}

/// Adds `quantity` of a variant to the visitor's cart (on top of what is there), within
/// the stock. A visitor without a session gets a guest session for their cart first.
pub async fn add_to_cart(
    services: &Services,
    owner: Option<CartOwner>,
    variant_id: i64,
    quantity: i64,
) -> AppResult<AddedToCart> {
    let quantity = Quantity::parse(quantity).map_err(|m| AppError::invalid("quantity", m))?;
    let Added {
        owner,
        new_guest_token,
    } = owner_or_new_guest(services, owner).await?;
    let (mut cart, variant) = services.db.cart_and_variant(&owner, variant_id).await?;
    let variant = variant.ok_or_else(|| AppError::not_found("That product variant"))?;
    let already = cart
        .iter()
        .find(|line| line.variant_id == variant_id)
        .map_or(0, |line| line.quantity);
    // A valid quantity that would take the cart past the most of one item is a conflict
    // with the cart, as a shortage of stock is.
    let total = Quantity::parse(already + quantity.get()).map_err(|_| {
        AppError::Conflict(format!(
            "Your cart already holds {already} of this item, and one order takes at most {}.",
            Quantity::MAX
        ))
    })?;
    let slot = CartSlot {
        stock: variant.stock,
        in_cart: already,
    };
    put_in_cart(services, &owner, variant_id, &slot, total.get()).await?;
    match cart.iter_mut().find(|line| line.variant_id == variant_id) {
        Some(line) => line.quantity = total.get(),
        // Added last: the cart is in the order its lines were added.
        None => cart.push(CartLine {
            quantity: total.get(),
            ..variant
        }),
    }
    let user_id = match &owner {
        CartOwner::User(id) => Some(*id),
        CartOwner::Guest(_) => None,
    };
    services.events.record(
        Event::new(EventKind::AddToCart)
            .user(user_id)
            .variant(variant_id),
    );
    Ok(AddedToCart {
        owner,
        new_guest_token,
        cart,
    })
}

/// Sets the quantity of a variant in the cart, within the stock.
pub async fn set_cart_quantity(
    services: &Services,
    owner: &CartOwner,
    variant_id: i64,
    quantity: i64,
) -> AppResult<()> {
    let slot = services
        .db
        .cart_slot(owner, variant_id)
        .await?
        .filter(|slot| slot.in_cart > 0)
        .ok_or_else(|| AppError::not_found("That item in your cart"))?;
    put_in_cart(services, owner, variant_id, &slot, quantity).await
}

/// Puts `quantity` of the variant in the cart in place of what it held, within the stock
/// of `slot` (the variant and cart line as just read).
async fn put_in_cart(
    services: &Services,
    owner: &CartOwner,
    variant_id: i64,
    slot: &CartSlot,
    quantity: i64,
) -> AppResult<()> {
    let quantity = Quantity::parse(quantity).map_err(|m| AppError::invalid("quantity", m))?;
    if slot.stock < quantity.get() {
        let message = match slot.stock {
            0 => "Sorry, that one is sold out.".to_owned(),
            n => format!("Only {n} left in stock."),
        };
        return Err(AppError::Conflict(message));
    }
    services
        .db
        .set_cart_quantity(owner, variant_id, quantity)
        .await
}

pub async fn remove_from_cart(
    services: &Services,
    owner: &CartOwner,
    variant_id: i64,
) -> AppResult<()> {
    if services.db.remove_cart_line(owner, variant_id).await? {
        Ok(())
    } else {
        Err(AppError::not_found("That item in your cart"))
    }
}

/// The shopper's orders, newest first.
pub async fn orders_of(services: &Services, user: &UserRow) -> AppResult<Vec<Order>> {
    services.db.orders_of_user(user.id).await
}

pub async fn cart(services: &Services, owner: Option<&CartOwner>) -> AppResult<Vec<CartLine>> {
    match owner {
        Some(owner) => services.db.cart_lines(owner).await,
        None => Ok(Vec::new()),
    }
}

/// A shopper's own order; anyone else's is "not found", never "forbidden", so codes
/// cannot be probed.
pub async fn own_order(services: &Services, user: &UserRow, code: &str) -> AppResult<Order> {
    order_for(services, OrderViewer::Account(user), code).await
}

pub async fn cancel_own_order(services: &Services, user: &UserRow, code: &str) -> AppResult<Order> {
    let order = own_order(services, user, code).await?;
    cancel(services, &order).await?;
    own_order(services, user, code).await
}

/// The steps of the order's life, each with when it was reached, as far as that is known.
pub async fn timeline(services: &Services, order: &Order) -> AppResult<Vec<TimelineStep>> {
    let history = services.db.status_history(order.order.id).await?;
    let changes: Vec<_> = history.iter().map(|c| (c.status, c.changed_at)).collect();
    let life = OrderLife {
        status: order.order.status,
        created_at: order.order.created_at,
        updated_at: order.order.updated_at,
        changes: &changes,
    };
    Ok(life.timeline())
}

/// What "buy again" did: the cart it filled, and what did not go in, and why.
pub struct BoughtAgain {
    pub added: Added,
    /// One sentence per line that did not all go back in the cart.
    pub left_out: Vec<String>,
}

/// Puts the lines of an order `viewer` may see back in the cart of `owner` (a new guest
/// cart when there is none): what is still for sale, as many as the stock allows on top of
/// what the cart holds.
pub async fn buy_again(
    services: &Services,
    viewer: OrderViewer<'_>,
    owner: Option<CartOwner>,
    code: &str,
) -> AppResult<BoughtAgain> {
    let order = order_for(services, viewer, code).await?;
    let added = owner_or_new_guest(services, owner).await?;
    let left_out = refill(services, &order, &added.owner).await?;
    Ok(BoughtAgain { added, left_out })
}

/// The visitor's cart, or a new guest session's for a visitor without a session.
async fn owner_or_new_guest(services: &Services, owner: Option<CartOwner>) -> AppResult<Added> {
    Ok(match owner {
        Some(owner) => Added {
            owner,
            new_guest_token: None,
        },
        None => {
            let guest = accounts::start_guest_session(services).await?;
            Added {
                owner: CartOwner::Guest(guest.id),
                new_guest_token: Some(guest.token),
            }
        }
    })
}

/// Adds each line of `order` to the cart within the stock; says what did not fit.
async fn refill(services: &Services, order: &Order, owner: &CartOwner) -> AppResult<Vec<String>> {
    let mut left_out = Vec::new();
    for line in &order.lines {
        let item = format!("{} ({}, {})", line.product_name, line.color, line.size);
        let Some(slot) = services.db.cart_slot(owner, line.variant_id).await? else {
            left_out.push(format!("{item} is no longer for sale."));
            continue;
        };
        let room = slot.stock.min(Quantity::MAX) - slot.in_cart;
        let taken = line.quantity.min(room);
        if taken <= 0 {
            left_out.push(match slot.stock {
                0 => format!("{item} is sold out."),
                _ => format!("{item}: your cart already holds all you can order."),
            });
            continue;
        }
        if taken < line.quantity {
            left_out.push(format!(
                "{item}: only {taken} of the {} you ordered went in your cart; that is all we have.",
                line.quantity
            ));
        }
        put_in_cart(
            services,
            owner,
            line.variant_id,
            &slot,
            slot.in_cart + taken,
        )
        .await?;
    }
    Ok(left_out)
}

/// Who asks for an order page: a signed-in shopper, or a guest showing the order is theirs.
#[derive(Debug, Clone, Copy)]
pub enum OrderViewer<'a> {
    Account(&'a UserRow),
    /// The key of the link in the order's confirmation mail.
    GuestKey(&'a str),
    /// The guest session that placed the order.
    GuestSession(&'a str),
}

/// The order, if `viewer` may see it; "not found" otherwise, so that nobody learns which
/// codes exist.
pub async fn order_for(
    services: &Services,
    viewer: OrderViewer<'_>,
    code: &str,
) -> AppResult<Order> {
    let not_found = || AppError::not_found("That order");
    let code = OrderCode::parse(code).ok_or_else(not_found)?;
    let order = match viewer {
        OrderViewer::Account(user) => services.db.order_by_code(&code, Some(user.id)).await?,
        OrderViewer::GuestKey(key) if crate::domain::token::is_well_formed(key) => {
            services.db.guest_order(&code, GuestProof::Key(key)).await?
        }
        OrderViewer::GuestKey(_) => None,
        OrderViewer::GuestSession(id) => {
            services
                .db
                .guest_order(&code, GuestProof::Session(id))
                .await?
        }
    };
    order.ok_or_else(not_found)
}

/// Cancels the order for whoever may see it (see [`cancel`]).
pub async fn cancel_order_for(
    services: &Services,
    viewer: OrderViewer<'_>,
    code: &str,
) -> AppResult<Order> {
    let order = order_for(services, viewer, code).await?;
    cancel(services, &order).await?;
    order_for(services, viewer, code).await
}

/// Whether the order may still be cancelled: a conflict saying why not once it shipped or
/// was cancelled.
pub fn cancellable(order: &Order) -> AppResult<()> {
    if order.order.status.can_cancel() {
        Ok(())
    } else {
        Err(AppError::Conflict(
            "This order has already shipped or been cancelled, so it can no longer be cancelled."
                .into(),
        ))
    }
}

/// Cancels an order that has not shipped, returning its stock (for its shopper or staff).
/// A paid card order is refunded first: if the provider cannot be reached, the order stays
/// as it is and the shopper is asked to try again.
pub async fn cancel(services: &Services, order: &Order) -> AppResult<()> {
    cancellable(order)?;
    super::payments::refund(services, &order.order).await?;
    services
        .db
        .cancel_order(order.order.id, order.order.status)
        .await?;
    services.catalog.invalidate();
    services
        .events
        .record(Event::new(EventKind::OrderCancelled).user(order.order.user_id));
    let code = OrderCode::parse(&order.order.code);
    if let Some(cancelled) = match code {
        Some(code) => services.db.order_by_code(&code, None).await?,
        None => None,
    } {
        let news = if cancelled.order.refunded_cents > 0 {
            OrderNews::Refunded
        } else {
            OrderNews::Cancelled
        };
        super::notices::tell_shopper(services, &cancelled, news).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::cart::CartOwner;
    use crate::domain::OrderStatus;
    use crate::services::checkout::{Choice, PlacedOrder, Shopper, place_order};

    /// Places the buyer's cart with the default choices.
    async fn place(shop: &TestShop, buyer: &UserRow, key: &str) -> AppResult<PlacedOrder> {
        let shopper = Shopper::Account(buyer);
        place_order(&shop.services, shopper, &Choice::default(), Some(key)).await
    }
    use crate::services::testing::TestShop;

    async fn cart_of(shop: &TestShop, user: &UserRow, quantity: i64) {
        let owner = Some(CartOwner::User(user.id));
        add_to_cart(&shop.services, owner, shop.variant_id, quantity)
            .await
            .expect("added to the cart");
    }

    #[tokio::test]
    async fn checkout_takes_the_stock_and_empties_the_cart_and_cancelling_returns_it() {
        let shop = TestShop::with_stock(5).await;
        let buyer = shop.shopper("buyer").await;
        cart_of(&shop, &buyer, 3).await;

        let placed = place(&shop, &buyer, "key-1").await.expect("order placed");
        let (order, new) = (placed.order, placed.new);
        assert!(new);
        assert_eq!(order.order.status, OrderStatus::Placed);
        // $37.50 of goods, under the $50 of free delivery: Standard costs $4.95.
        assert_eq!(order.order.subtotal_cents, 3 * 1250);
        assert_eq!(order.order.total().get(), 3 * 1250 + 495);
        assert_eq!(order.order.shipping_address, "1 Coffee Street, Madrid");
        assert_eq!(shop.stock().await, 2);
        let owner = CartOwner::User(buyer.id);
        assert!(cart(&shop.services, Some(&owner)).await.unwrap().is_empty());

        let cancelled = cancel_own_order(&shop.services, &buyer, &order.order.code)
            .await
            .expect("cancelled");
        assert_eq!(cancelled.order.status, OrderStatus::Cancelled);
        assert_eq!(shop.stock().await, 5, "the stock came back");
        let again = cancel_own_order(&shop.services, &buyer, &order.order.code).await;
        assert!(matches!(again, Err(AppError::Conflict(_))), "{again:?}");
        assert_eq!(shop.stock().await, 5, "a second cancel returns nothing");
    }

    #[tokio::test]
    async fn the_same_idempotency_key_gives_the_first_order_again() {
        let shop = TestShop::with_stock(5).await;
        let buyer = shop.shopper("twice").await;
        cart_of(&shop, &buyer, 1).await;
        let placed = place(&shop, &buyer, "same").await.unwrap();
        let first = placed.order;
        cart_of(&shop, &buyer, 1).await;
        let placed = place(&shop, &buyer, "same").await.unwrap();
        let second = placed.order;
        let new = placed.new;
        assert!(!new);
        assert_eq!(second.order.code, first.order.code);
        assert_eq!(shop.stock().await, 4, "only the first order took stock");
    }

    #[tokio::test]
    async fn more_than_in_stock_is_refused_and_changes_nothing() {
        let shop = TestShop::with_stock(2).await;
        let buyer = shop.shopper("greedy").await;
        let owner = Some(CartOwner::User(buyer.id));
        let refused = add_to_cart(&shop.services, owner, shop.variant_id, 3).await;
        assert!(matches!(refused, Err(AppError::Conflict(_))));
        let empty = place(&shop, &buyer, "k").await;
        assert!(matches!(empty, Err(AppError::Conflict(_))), "{empty:?}");
        assert_eq!(shop.stock().await, 2);
    }

    #[tokio::test]
    async fn someone_elses_order_is_not_found_and_cannot_be_cancelled() {
        let shop = TestShop::with_stock(5).await;
        let (owner, other) = (shop.shopper("owner").await, shop.shopper("other").await);
        cart_of(&shop, &owner, 1).await;
        let placed = place(&shop, &owner, "k").await.unwrap();
        let order = placed.order;
        let code = &order.order.code;
        assert!(matches!(
            own_order(&shop.services, &other, code).await,
            Err(AppError::NotFound(_))
        ));
        assert!(matches!(
            cancel_own_order(&shop.services, &other, code).await,
            Err(AppError::NotFound(_))
        ));
        assert_eq!(shop.stock().await, 4);
    }

    #[tokio::test]
    async fn a_visitor_without_a_session_gets_a_guest_cart() {
        let shop = TestShop::with_stock(5).await;
        let added = add_to_cart(&shop.services, None, shop.variant_id, 2)
            .await
            .unwrap();
        assert!(matches!(added.owner, CartOwner::Guest(_)));
        assert!(added.new_guest_token.is_some());
        let lines = cart(&shop.services, Some(&added.owner)).await.unwrap();
        assert_eq!(lines.len(), 1);
        let refused = add_to_cart(&shop.services, None, shop.variant_id, 0).await;
        assert!(
            matches!(refused, Err(AppError::Invalid(_))),
            "no session for a bad quantity"
        );
    }
}
