//! Orders: placed from a cart in one transaction, never overselling, never twice for one
//! idempotency key.

use const_format::concatcp;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use backon::Retryable;
use sqlx::FromRow;

use super::cart::{CartLine, CartOwner, cart_total};
use super::checkout::{DeliveryOption, DiscountCode};
use super::places::PlaceRow;
use super::{Db, Sql, Tx, new_id, now_ms};
use crate::domain::address::ShippingAddress;
use crate::domain::checkout::PaymentMethod;
use crate::domain::pricing::{PriceTerms, Pricing, Totals};
use crate::domain::token::token_hash;
use crate::domain::{Address, Cents, OrderCode, OrderStatus};
use crate::error::{AppError, AppResult};

#[derive(Debug, Clone, FromRow)]
pub struct OrderRow {
    pub id: i64,
    pub code: String,
    pub user_id: Option<i64>,
    pub username: String,
    #[sqlx(try_from = "String")]
    pub status: OrderStatus,
    pub subtotal_cents: i64,
    pub delivery_cents: i64,
    pub discount_cents: i64,
    pub tax_cents: i64,
    pub total_cents: i64,
    /// The address as a label, or where it is picked up.
    pub shipping_address: String,
    /// The delivery option chosen, as it was named then (none before delivery options).
    pub delivery_name: Option<String>,
    pub discount_code: Option<String>,
    pub pickup_place_id: Option<i64>,
    #[sqlx(try_from = "String")]
    pub payment_method: PaymentMethod,
    /// The provider's PaymentIntent of the latest card attempt.
    pub payment_intent_id: Option<String>,
    /// Why the last card attempt failed, for the shopper.
    pub payment_error: Option<String>,
    /// Until when an order awaiting payment holds its stock (UTC milliseconds).
    pub hold_until: Option<i64>,
    pub refunded_cents: i64,
    /// Where a guest (an order without an account) hears about the order.
    pub guest_email: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

impl OrderRow {
    pub fn total(&self) -> Cents {
        Cents::new(self.total_cents)
    }

    pub fn refunded(&self) -> Cents {
        Cents::new(self.refunded_cents)
    }

    /// What the order cost, as it was computed when it was placed.
    pub fn totals(&self) -> Totals {
        Totals {
            subtotal_cents: self.subtotal_cents,
            delivery_cents: self.delivery_cents,
            discount_cents: self.discount_cents,
            tax_cents: self.tax_cents,
            total_cents: self.total_cents,
        }
    }
}

#[derive(Debug, Clone, FromRow)]
pub struct OrderLineRow {
    pub order_id: i64,
    pub line_no: i64,
    pub product_id: i64,
    pub variant_id: i64,
    pub product_name: String,
    pub color: String,
    pub size: String,
    pub unit_price_cents: i64,
    pub quantity: i64,
}

impl OrderLineRow {
    pub fn unit_price(&self) -> Cents {
        Cents::new(self.unit_price_cents)
    }

    pub fn line_total(&self) -> Cents {
        self.unit_price().times(self.quantity)
    }
}

#[derive(Debug, Clone)]
pub struct Order {
    pub order: OrderRow,
    pub lines: Vec<OrderLineRow>,
}

/// Where an order goes.
pub enum Destination<'a> {
    Ship(&'a ShippingAddress),
    /// A free-text address: the API's `shipping_address`, or a profile's from before
    /// structured addresses.
    Text(&'a Address),
    PickUp(&'a PlaceRow),
}

pub struct Checkout<'a> {
    pub buyer: &'a Buyer<'a>,
    pub destination: Destination<'a>,
    pub delivery: &'a DeliveryOption,
    pub discount: Option<&'a DiscountCode>,
    pub pricing: Pricing,
    pub payment_method: PaymentMethod,
    /// For a card payment: until when the order holds its stock unpaid.
    pub hold_until: Option<i64>,
    pub idempotency_key: Option<&'a str>,
}

/// Who places an order.
pub enum Buyer<'a> {
    Account {
        user_id: i64,
        username: &'a str,
    },
    /// No account: the guest session that holds the cart, where to mail, and the hash of
    /// the key that the link in the confirmation mail carries.
    Guest {
        session_id: &'a str,
        email: &'a str,
        access_key_hash: &'a str,
    },
}

impl Buyer<'_> {
    fn cart_owner(&self) -> CartOwner {
        match self {
            Self::Account { user_id, .. } => CartOwner::User(*user_id),
            Self::Guest { session_id, .. } => CartOwner::Guest((*session_id).to_owned()),
        }
    }
}

/// How a guest shows an order is theirs: the session that placed it, or the key of its link.
pub enum GuestProof<'a> {
    Session(&'a str),
    Key(&'a str),
}

/// The result of a checkout: a new order, or the one an earlier request with the same
/// idempotency key already created.
pub enum Placed {
    New(Order),
    Replayed(Order),
}

const ORDER_COLUMNS: &str = "id, code, user_id, username, status, subtotal_cents, delivery_cents, \
     discount_cents, tax_cents, total_cents, shipping_address, delivery_name, discount_code, \
     pickup_place_id, payment_method, payment_intent_id, payment_error, hold_until, \
     refunded_cents, guest_email, created_at, updated_at";
const LINE_COLUMNS: &str = "order_id, line_no, product_id, variant_id, product_name, color, size, unit_price_cents, quantity";

impl Db {
    /// Turns the user's cart into an order in one transaction: the lines leave the cart
    /// first, as they were read (so concurrent checkouts of one cart place it once), stock
    /// is checked and taken with one guarded UPDATE (so concurrent buyers can never
    /// oversell), and the order and its lines are written with a price snapshot.
    ///
    /// A key seen before is not looked up first (a round trip every new order would pay):
    /// the replay finds the cart empty, or fails on the key's unique index before taking
    /// any stock, and answers with the earlier order.
    pub async fn place_order(&self, checkout: &Checkout<'_>) -> AppResult<Placed> {
        match self.place_order_retrying(checkout).await {
            // An earlier or concurrent request with the same key may have placed the order
            // (and emptied the cart, used up the code, or taken the key): if so, answer
            // with its order.
            Err(refused @ (AppError::Conflict(_) | AppError::Invalid(_))) => {
                let earlier = match checkout.idempotency_key {
                    Some(key) => self.order_by_idempotency_key(checkout.buyer, key).await?,
                    None => None,
                };
                match (earlier, refused) {
                    (Some(order), _) => Ok(Placed::Replayed(order)),
                    (None, AppError::Conflict(message)) if message == DUPLICATE_KEY => {
                        Err(AppError::Conflict(
                            "Your order is being placed; please refresh in a moment.".into(),
                        ))
                    }
                    (None, refused) => Err(refused),
                }
            }
            other => other.map(Placed::New),
        }
    }

    /// With an idempotency key, a checkout that hit a passing database error (a deadlock, a
    /// failover) is tried again: if the first attempt did commit, the retry finds its order.
    async fn place_order_retrying(&self, checkout: &Checkout<'_>) -> AppResult<Order> {
        let Some(key) = checkout.idempotency_key else {
            return self.place_order_once(checkout).await;
        };
        let first_try = AtomicBool::new(true);
        (|| async {
            if !first_try.swap(false, Ordering::Relaxed)
                && self
                    .order_by_idempotency_key(checkout.buyer, key)
                    .await?
                    .is_some()
            {
                return Err(AppError::Conflict(DUPLICATE_KEY.into()));
            }
            self.place_order_once(checkout).await
        })
        .retry(super::backoff(2, Duration::from_millis(100)))
        .when(|error| matches!(error, AppError::Unavailable(_)))
        .await
    }

    async fn place_order_once(&self, checkout: &Checkout<'_>) -> AppResult<Order> {
        let owner = checkout.buyer.cart_owner();
        // Read before the transaction (on SQLite, before the writers' turn): the first
        // write takes these very lines out of the cart, or the order is not placed.
        let lines = self.cart_lines(&owner).await?;
        if lines.is_empty() {
            return Err(AppError::Conflict("Your cart is empty.".into()));
        }
        let now = now_ms();
        let subtotal = cart_total(&lines);
        let discount = match checkout.discount {
            Some(code) => Some(
                code.rule
                    .applies(subtotal, now)
                    .map_err(|m| AppError::invalid("coupon", m))?,
            ),
            None => None,
        };
        let totals = Totals::compute(
            subtotal,
            &PriceTerms {
                delivery: checkout.delivery.price(),
                free_delivery_from: checkout.pricing.free_delivery_from,
                discount,
                tax: checkout.pricing.tax,
            },
        );
        let (shipping_address, ship, pickup_place_id) = match &checkout.destination {
            Destination::Ship(address) => (address.to_string(), Some(*address), None),
            Destination::Text(address) => (address.as_str().to_owned(), None, None),
            Destination::PickUp(place) => (
                format!(
                    "Pick up at {}\n{}\n{}",
                    place.name, place.address, place.city
                ),
                None,
                Some(place.id),
            ),
        };
        let order = OrderRow {
            id: new_id(),
            code: OrderCode::generate().to_string(),
            user_id: match checkout.buyer {
                Buyer::Account { user_id, .. } => Some(*user_id),
                Buyer::Guest { .. } => None,
            },
            username: match checkout.buyer {
                Buyer::Account { username, .. } => (*username).to_owned(),
                Buyer::Guest { .. } => GUEST_NAME.to_owned(),
            },
            status: match checkout.hold_until {
                Some(_) => OrderStatus::AwaitingPayment,
                None => OrderStatus::Placed,
            },
            subtotal_cents: totals.subtotal_cents,
            delivery_cents: totals.delivery_cents,
            discount_cents: totals.discount_cents,
            tax_cents: totals.tax_cents,
            total_cents: totals.total_cents,
            shipping_address,
            delivery_name: Some(checkout.delivery.name.clone()),
            discount_code: checkout.discount.map(|d| d.code.clone()),
            pickup_place_id,
            payment_method: checkout.payment_method,
            payment_intent_id: None,
            payment_error: None,
            hold_until: checkout.hold_until,
            refunded_cents: 0,
            guest_email: match checkout.buyer {
                Buyer::Account { .. } => None,
                Buyer::Guest { email, .. } => Some((*email).to_owned()),
            },
            created_at: now,
            updated_at: now,
        };
        let (guest_session_hash, access_key_hash) = match checkout.buyer {
            Buyer::Account { .. } => (None, None),
            Buyer::Guest {
                session_id,
                access_key_hash,
                ..
            } => (Some(token_hash(session_id)), Some(*access_key_hash)),
        };
        let mut tx = self.begin_write().await?;
        if !self.take_cart_lines(&mut tx, &owner, &lines).await? {
            return Err(AppError::Conflict(CART_CHANGED.into()));
        }
        if let Some(code) = checkout.discount
            && !self
                .take_discount_use(&mut tx, code.id, subtotal, now)
                .await?
        {
            return Err(AppError::invalid(
                "coupon",
                "That discount code has just been used up or has expired.",
            ));
        }
        let inserted = self
            .query(
                "INSERT INTO orders (id, code, user_id, username, status, subtotal_cents, delivery_cents, \
                 discount_cents, tax_cents, total_cents, shipping_address, delivery_name, discount_code, \
                 pickup_place_id, payment_method, ship_name, ship_line1, ship_line2, ship_city, \
                 ship_postal_code, ship_country, hold_until, idempotency_key, guest_email, \
                 guest_session_hash, access_key_hash, created_at, updated_at) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(order.id)
            .bind(&order.code)
            .bind(order.user_id)
            .bind(&order.username)
            .bind(order.status.as_str())
            .bind(order.subtotal_cents)
            .bind(order.delivery_cents)
            .bind(order.discount_cents)
            .bind(order.tax_cents)
            .bind(order.total_cents)
            .bind(&order.shipping_address)
            .bind(order.delivery_name.clone())
            .bind(order.discount_code.clone())
            .bind(order.pickup_place_id)
            .bind(order.payment_method.as_str())
            .bind(ship.map(|a| a.name().to_owned()))
            .bind(ship.map(|a| a.line1().to_owned()))
            .bind(ship.and_then(|a| a.line2().map(str::to_owned)))
            .bind(ship.map(|a| a.city().to_owned()))
            .bind(ship.map(|a| a.postal_code().to_owned()))
            .bind(ship.map(|a| a.country_code()))
            .bind(order.hold_until)
            .bind(checkout.idempotency_key)
            .bind(order.guest_email.clone())
            .bind(guest_session_hash)
            .bind(access_key_hash)
            .bind(order.created_at)
            .bind(order.updated_at)
            .execute(&mut *tx)
            .await;
        if let Err(sqlx::Error::Database(e)) = &inserted
            && e.is_unique_violation()
        {
            // Either the idempotency key was used meanwhile, or (one in two billion) the
            // code collided: both end this attempt without taking any stock.
            return Err(AppError::Conflict(DUPLICATE_KEY.into()));
        }
        inserted?;
        // Stock is taken after the order row, whose key a replay fails on.
        let wanted: Vec<(i64, i64)> = lines
            .iter()
            .map(|line| (line.variant_id, line.quantity))
            .collect();
        if !self.take_stock(&mut tx, &wanted).await? {
            return Err(self.out_of_stock(&mut tx, &lines).await?);
        }
        // The rehearsal's next release marks the orders it took (docs/upgrades.md).
        #[cfg(feature = "next-release-rehearsal")]
        self.query("UPDATE orders SET placed_by_release = ? WHERE id = ?")
            .bind(crate::RELEASE)
            .bind(order.id)
            .execute(&mut *tx)
            .await?;
        let sql = Sql::repeated(
            concatcp!("INSERT INTO order_lines (", LINE_COLUMNS, ") VALUES "),
            "(?, ?, ?, ?, ?, ?, ?, ?, ?)",
            lines.len(),
            "",
        );
        let mut insert_lines = self.query(sql);
        let mut order_lines = Vec::with_capacity(lines.len());
        for (line_no, line) in (1_i64..).zip(&lines) {
            let row = OrderLineRow {
                order_id: order.id,
                line_no,
                product_id: line.product_id,
                variant_id: line.variant_id,
                product_name: line.product_name.clone(),
                color: line.color.clone(),
                size: line.size.clone(),
                unit_price_cents: line.unit_price_cents,
                quantity: line.quantity,
            };
            insert_lines = insert_lines
                .bind(row.order_id)
                .bind(row.line_no)
                .bind(row.product_id)
                .bind(row.variant_id)
                .bind(row.product_name.clone())
                .bind(row.color.clone())
                .bind(row.size.clone())
                .bind(row.unit_price_cents)
                .bind(row.quantity);
            order_lines.push(row);
        }
        insert_lines.execute(&mut *tx).await?;
        self.record_status(&mut tx, order.id, order.status, now)
            .await?;
        tx.commit().await?;
        Ok(Order {
            order,
            lines: order_lines,
        })
    }

    /// Why the stock of `lines` could not be taken: the first line with too few left.
    async fn out_of_stock(&self, tx: &mut Tx, lines: &[CartLine]) -> AppResult<AppError> {
        let sql = Sql::repeated(
            "SELECT id, stock FROM variants WHERE id IN (",
            "?",
            lines.len(),
            ")",
        );
        let mut query = self.query_as::<(i64, i64)>(sql);
        for line in lines {
            query = query.bind(line.variant_id);
        }
        let left = query.fetch_all(&mut **tx).await?;
        let short = lines.iter().find_map(|line| {
            let stock = left
                .iter()
                .find(|(id, _)| *id == line.variant_id)
                .map_or(0, |(_, stock)| *stock);
            (stock < line.quantity).then_some((line, stock))
        });
        Ok(AppError::Conflict(match short {
            Some((line, stock)) => {
                out_of_stock_message(&line.product_name, &line.color, &line.size, stock.max(0))
            }
            // Restocked meanwhile: the shopper may simply try again.
            None => "The stock changed while your order was being placed; please try again.".into(),
        }))
    }

    async fn order_by_idempotency_key(
        &self,
        buyer: &Buyer<'_>,
        key: &str,
    ) -> AppResult<Option<Order>> {
        let row = match buyer {
            Buyer::Account { user_id, .. } => {
                self.query_as::<OrderRow>(concatcp!(
                    "SELECT ",
                    ORDER_COLUMNS,
                    " FROM orders WHERE user_id = ? AND idempotency_key = ?"
                ))
                .bind(*user_id)
                .bind(key)
                .fetch_optional(self.pool())
                .await?
            }
            Buyer::Guest { session_id, .. } => {
                self.query_as::<OrderRow>(concatcp!(
                    "SELECT ",
                    ORDER_COLUMNS,
                    " FROM orders WHERE guest_session_hash = ? AND idempotency_key = ?"
                ))
                .bind(token_hash(session_id))
                .bind(key)
                .fetch_optional(self.pool())
                .await?
            }
        };
        self.with_lines(row).await
    }

    /// A guest's order by code, when the guest shows it is theirs.
    pub async fn guest_order(
        &self,
        code: &OrderCode,
        proof: GuestProof<'_>,
    ) -> AppResult<Option<Order>> {
        let (sql, hash) = match proof {
            GuestProof::Session(id) => (
                concatcp!(
                    "SELECT ",
                    ORDER_COLUMNS,
                    " FROM orders WHERE code = ? AND user_id IS NULL AND guest_session_hash = ?"
                ),
                token_hash(id),
            ),
            GuestProof::Key(key) => (
                concatcp!(
                    "SELECT ",
                    ORDER_COLUMNS,
                    " FROM orders WHERE code = ? AND user_id IS NULL AND access_key_hash = ?"
                ),
                token_hash(key),
            ),
        };
        let row = self
            .query_as::<OrderRow>(sql)
            .bind(code.as_str())
            .bind(hash)
            .fetch_optional(self.pool())
            .await?;
        self.with_lines(row).await
    }

    /// One order by code; `user_id` limits it to that shopper's orders (staff pass `None`).
    pub async fn order_by_code(
        &self,
        code: &OrderCode,
        user_id: Option<i64>,
    ) -> AppResult<Option<Order>> {
        let row = self
            .query_as::<OrderRow>(concatcp!(
                "SELECT ",
                ORDER_COLUMNS,
                " FROM orders WHERE code = ?"
            ))
            .bind(code.as_str())
            .fetch_optional(self.pool())
            .await?
            .filter(|order| user_id.is_none() || order.user_id == user_id);
        self.with_lines(row).await
    }

    async fn with_lines(&self, row: Option<OrderRow>) -> AppResult<Option<Order>> {
        let Some(order) = row else { return Ok(None) };
        let lines = self
            .query_as::<OrderLineRow>(concatcp!(
                "SELECT ",
                LINE_COLUMNS,
                " FROM order_lines WHERE order_id = ? ORDER BY line_no"
            ))
            .bind(order.id)
            .fetch_all(self.pool())
            .await?;
        Ok(Some(Order { order, lines }))
    }

    /// A shopper's orders, newest first, with their lines: two queries.
    pub async fn orders_of_user(&self, user_id: i64) -> AppResult<Vec<Order>> {
        let rows = self
            .query_as::<OrderRow>(concatcp!(
                "SELECT ",
                ORDER_COLUMNS,
                " FROM orders WHERE user_id = ? ORDER BY created_at DESC, id DESC"
            ))
            .bind(user_id)
            .fetch_all(self.pool())
            .await?;
        self.orders_with_lines(rows).await
    }

    /// Orders for staff, newest first, optionally of one status.
    pub async fn all_orders(
        &self,
        status: Option<OrderStatus>,
        limit: i64,
    ) -> AppResult<Vec<Order>> {
        let rows = match status {
            Some(status) => {
                self.query_as::<OrderRow>(concatcp!(
                    "SELECT ",
                    ORDER_COLUMNS,
                    " FROM orders WHERE status = ? ORDER BY created_at DESC, id DESC LIMIT ?"
                ))
                .bind(status.as_str())
                .bind(limit)
                .fetch_all(self.pool())
                .await?
            }
            None => {
                self.query_as::<OrderRow>(concatcp!(
                    "SELECT ",
                    ORDER_COLUMNS,
                    " FROM orders ORDER BY created_at DESC, id DESC LIMIT ?"
                ))
                .bind(limit)
                .fetch_all(self.pool())
                .await?
            }
        };
        self.orders_with_lines(rows).await
    }

    async fn orders_with_lines(&self, rows: Vec<OrderRow>) -> AppResult<Vec<Order>> {
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let sql = Sql::repeated(
            concatcp!(
                "SELECT ",
                LINE_COLUMNS,
                " FROM order_lines WHERE order_id IN ("
            ),
            "?",
            rows.len(),
            ") ORDER BY order_id, line_no",
        );
        let mut query = self.query_as::<OrderLineRow>(sql);
        for row in &rows {
            query = query.bind(row.id);
        }
        let mut lines = query.fetch_all(self.pool()).await?;
        Ok(rows
            .into_iter()
            .map(|order| {
                let (mine, rest): (Vec<_>, Vec<_>) =
                    lines.drain(..).partition(|l| l.order_id == order.id);
                lines = rest;
                Order { order, lines: mine }
            })
            .collect())
    }

    /// Cancels an order that is still `from` (one of [`OrderStatus::CANCELLABLE`]) and
    /// returns its stock, in one transaction. The status guard in the UPDATE makes a second
    /// cancel, or a race with shipping or with a payment, a conflict that changes nothing.
    pub async fn cancel_order(&self, order_id: i64, from: OrderStatus) -> AppResult<()> {
        if !from.can_cancel() {
            return Err(AppError::Conflict(
                "This order has already shipped or been cancelled, so it can no longer be cancelled.".into(),
            ));
        }
        let mut tx = self.begin_write().await?;
        if !self
            .change_status(&mut tx, order_id, from, OrderStatus::Cancelled)
            .await?
        {
            return Err(AppError::Conflict(
                "This order has already shipped or been cancelled, so it can no longer be cancelled.".into(),
            ));
        }
        let (code,): (Option<String>,) = self
            .query_as("SELECT discount_code FROM orders WHERE id = ?")
            .bind(order_id)
            .fetch_one(&mut *tx)
            .await?;
        if let Some(code) = code {
            self.give_back_discount_use(&mut tx, &code).await?;
        }
        let lines: Vec<(i64, i64)> = self
            .query_as("SELECT variant_id, quantity FROM order_lines WHERE order_id = ?")
            .bind(order_id)
            .fetch_all(&mut *tx)
            .await?;
        for (variant_id, quantity) in lines {
            self.query("UPDATE variants SET stock = stock + ? WHERE id = ?")
                .bind(quantity)
                .bind(variant_id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Moves an order one step along placed → paid → shipped → delivered.
    pub async fn advance_order(&self, order_id: i64, from: OrderStatus) -> AppResult<OrderStatus> {
        let Some(to) = from.next() else {
            return Err(AppError::Conflict(format!(
                "A {from} order has no next step."
            )));
        };
        let mut tx = self.begin_write().await?;
        if !self.change_status(&mut tx, order_id, from, to).await? {
            return Err(AppError::Conflict(
                "This order changed meanwhile; reload to see its status.".into(),
            ));
        }
        tx.commit().await?;
        Ok(to)
    }
}

const DUPLICATE_KEY: &str = "duplicate order key";

/// The refusal of a checkout whose cart another request placed (or changed) meanwhile.
const CART_CHANGED: &str = "Your cart was ordered or changed while this order was being placed; check your orders and your cart.";

/// The name an order without an account goes by, where staff see who ordered.
pub const GUEST_NAME: &str = "guest";

fn out_of_stock_message(name: &str, color: &str, size: &str, left: i64) -> String {
    match left {
        0 => format!(
            "Sorry, {name} ({color}, {size}) is sold out. Remove it from your cart to continue."
        ),
        n => format!(
            "Only {n} of {name} ({color}, {size}) left. Lower the quantity in your cart to continue."
        ),
    }
}

impl OrderRow {
    pub fn created_label(&self) -> String {
        super::format_ms(self.created_at)
    }

    pub fn item_count(lines: &[OrderLineRow]) -> i64 {
        lines.iter().map(|l| l.quantity).sum()
    }
}

impl Order {
    pub fn item_count(&self) -> i64 {
        OrderRow::item_count(&self.lines)
    }
}

impl Db {
    /// Every order, oldest first (for exports).
    pub async fn all_order_rows(&self) -> AppResult<Vec<OrderRow>> {
        Ok(self
            .query_as(concatcp!(
                "SELECT ",
                ORDER_COLUMNS,
                " FROM orders ORDER BY created_at, id"
            ))
            .fetch_all(self.pool())
            .await?)
    }

    /// Every order line (for exports).
    pub async fn all_order_lines(&self) -> AppResult<Vec<OrderLineRow>> {
        Ok(self
            .query_as(concatcp!(
                "SELECT ",
                LINE_COLUMNS,
                " FROM order_lines ORDER BY order_id, line_no"
            ))
            .fetch_all(self.pool())
            .await?)
    }
}

/// What the shop records about card payments, each a guarded step that is safe to repeat
/// and to race from several instances.
impl Db {
    /// Names the PaymentIntent of the order's latest card attempt.
    pub async fn set_payment_intent(
        &self,
        order_id: i64,
        intent_id: &str,
        attempts: i64,
    ) -> AppResult<()> {
        self.query(
            "UPDATE orders SET payment_intent_id = ?, payment_attempts = ?, payment_error = NULL, \
             updated_at = ? WHERE id = ?",
        )
        .bind(intent_id)
        .bind(attempts)
        .bind(now_ms())
        .bind(order_id)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// How many card attempts the order has had.
    pub async fn payment_attempts(&self, order_id: i64) -> AppResult<i64> {
        let (attempts,): (i64,) = self
            .query_as("SELECT payment_attempts FROM orders WHERE id = ?")
            .bind(order_id)
            .fetch_one(self.pool())
            .await?;
        Ok(attempts)
    }

    pub async fn record_payment_error(&self, order_id: i64, message: &str) -> AppResult<()> {
        self.query(
            "UPDATE orders SET payment_error = ?, updated_at = ? WHERE id = ? AND status = ?",
        )
        .bind(message.chars().take(500).collect::<String>())
        .bind(now_ms())
        .bind(order_id)
        .bind(OrderStatus::AwaitingPayment.as_str())
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Moves an order awaiting payment to paid; false when it was not awaiting payment
    /// (already paid, or released).
    pub async fn mark_paid(&self, order_id: i64) -> AppResult<bool> {
        let mut tx = self.begin_write().await?;
        let paid = self
            .change_status(
                &mut tx,
                order_id,
                OrderStatus::AwaitingPayment,
                OrderStatus::Paid,
            )
            .await?;
        tx.commit().await?;
        Ok(paid)
    }

    /// A payment that arrived after its order was released: takes the stock again and
    /// marks the order paid, in one transaction, if every line is still in stock; false
    /// (changing nothing) when one is not, or the order is not a released card order.
    pub async fn revive_as_paid(&self, order: &Order) -> AppResult<bool> {
        let mut tx = self.begin_write().await?;
        if !self
            .change_status(
                &mut tx,
                order.order.id,
                OrderStatus::Cancelled,
                OrderStatus::Paid,
            )
            .await?
        {
            return Ok(false);
        }
        let wanted: Vec<(i64, i64)> = order
            .lines
            .iter()
            .map(|line| (line.variant_id, line.quantity))
            .collect();
        if !self.take_stock(&mut tx, &wanted).await? {
            // Rolled back when `tx` drops: the order stays released.
            return Ok(false);
        }
        tx.commit().await?;
        Ok(true)
    }

    /// Records money given back for an order.
    pub async fn record_refund(&self, order_id: i64, cents: i64) -> AppResult<()> {
        self.query("UPDATE orders SET refunded_cents = ?, updated_at = ? WHERE id = ?")
            .bind(cents)
            .bind(now_ms())
            .bind(order_id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Orders still awaiting payment, oldest first, for the reconciler.
    pub async fn orders_awaiting_payment(&self, limit: i64) -> AppResult<Vec<OrderRow>> {
        Ok(self
            .query_as(concatcp!(
                "SELECT ",
                ORDER_COLUMNS,
                " FROM orders WHERE status = ? ORDER BY created_at LIMIT ?"
            ))
            .bind(OrderStatus::AwaitingPayment.as_str())
            .bind(limit)
            .fetch_all(self.pool())
            .await?)
    }

    /// The order a PaymentIntent was made for.
    pub async fn order_by_payment_intent(&self, intent_id: &str) -> AppResult<Option<Order>> {
        let row: Option<OrderRow> = self
            .query_as(concatcp!(
                "SELECT ",
                ORDER_COLUMNS,
                " FROM orders WHERE payment_intent_id = ?"
            ))
            .bind(intent_id)
            .fetch_optional(self.pool())
            .await?;
        self.with_lines(row).await
    }

    /// Remembers a webhook event; false when it was seen before (a replay).
    pub async fn first_sight_of_event(&self, id: &str) -> AppResult<bool> {
        let inserted = self
            .query("INSERT INTO webhook_events (id, received_at) VALUES (?, ?)")
            .bind(id)
            .bind(now_ms())
            .execute(self.pool())
            .await;
        match inserted {
            Ok(_) => Ok(true),
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Ok(false),
            Err(other) => Err(other.into()),
        }
    }
}

impl Db {
    /// Takes each line's quantity of its variant's stock if that many are left (the guard
    /// that keeps concurrent buyers from overselling).
    ///
    /// All the lines (distinct variants, as `(variant_id, quantity)`) in one UPDATE; false
    /// when one of them has too few left, and then the caller must roll back, for the
    /// others may have been taken.
    async fn take_stock(&self, tx: &mut Tx, lines: &[(i64, i64)]) -> AppResult<bool> {
        let sql = Sql::from("UPDATE variants SET stock = stock - CASE id ")
            .then_repeated("WHEN ? THEN ?", " ", lines.len())
            .then(" END WHERE id IN (")
            .then_repeated("?", ", ", lines.len())
            .then(") AND stock >= CASE id ")
            .then_repeated("WHEN ? THEN ?", " ", lines.len())
            .then(" END");
        let mut take = self.query(sql);
        for &(variant_id, quantity) in lines {
            take = take.bind(variant_id).bind(quantity);
        }
        for &(variant_id, _) in lines {
            take = take.bind(variant_id);
        }
        for &(variant_id, quantity) in lines {
            take = take.bind(variant_id).bind(quantity);
        }
        let taken = take.execute(&mut **tx).await?;
        Ok(taken.rows_affected() == lines.len() as u64)
    }
}

/// The history of each order's status: every change goes through [`Db::change_status`],
/// which writes the new status and when it was reached in one transaction.
impl Db {
    /// Moves an order from `from` to `to` and records when; false (changing nothing) when
    /// the order was no longer `from`. Becoming paid also ends the hold and forgets the last
    /// card error, and never happens to an order whose money was given back.
    async fn change_status(
        &self,
        tx: &mut Tx,
        order_id: i64,
        from: OrderStatus,
        to: OrderStatus,
    ) -> AppResult<bool> {
        let now = now_ms();
        let sql = match to {
            OrderStatus::Paid => {
                "UPDATE orders SET status = ?, payment_error = NULL, hold_until = NULL, \
                 updated_at = ? WHERE id = ? AND status = ? AND refunded_cents = 0"
            }
            _ => "UPDATE orders SET status = ?, updated_at = ? WHERE id = ? AND status = ?",
        };
        let changed = self
            .query(sql)
            .bind(to.as_str())
            .bind(now)
            .bind(order_id)
            .bind(from.as_str())
            .execute(&mut **tx)
            .await?;
        if changed.rows_affected() != 1 {
            return Ok(false);
        }
        self.record_status(tx, order_id, to, now).await?;
        Ok(true)
    }

    async fn record_status(
        &self,
        tx: &mut Tx,
        order_id: i64,
        status: OrderStatus,
        at: i64,
    ) -> AppResult<()> {
        self.query(
            "INSERT INTO order_history (id, order_id, status, changed_at) VALUES (?, ?, ?, ?)",
        )
        .bind(new_id())
        .bind(order_id)
        .bind(status.as_str())
        .bind(at)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    /// When the order reached each status, oldest first (nothing for orders placed before
    /// the history was kept).
    pub async fn status_history(&self, order_id: i64) -> AppResult<Vec<StatusChange>> {
        Ok(self
            .query_as(
                "SELECT status, changed_at FROM order_history WHERE order_id = ? \
                 ORDER BY changed_at, id",
            )
            .bind(order_id)
            .fetch_all(self.pool())
            .await?)
    }
}

/// An order reached `status` at `changed_at` (UTC milliseconds).
#[derive(Debug, Clone, FromRow)]
pub struct StatusChange {
    #[sqlx(try_from = "String")]
    pub status: OrderStatus,
    pub changed_at: i64,
}
