//! Delivery options and discount codes, as staff set them up and checkout reads them.

use sqlx::FromRow;

use super::{Db, Tx, new_id, now_ms};
use crate::domain::checkout::{DeliveryDetails, DiscountDetails, DiscountKind, DiscountRule, flag};
use crate::domain::{Cents, UnknownValue};
use crate::error::{AppError, AppResult, on_unique_violation};

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DeliveryOption {
    pub id: i64,
    pub name: String,
    pub price_cents: i64,
    pub estimated_days: i64,
    /// Collected at a coffee place instead of shipped.
    pub pickup: bool,
    pub active: bool,
}

impl DeliveryOption {
    pub fn price(&self) -> Cents {
        Cents::new(self.price_cents)
    }

    /// "1 day", "4 days".
    pub fn days_label(&self) -> String {
        match self.estimated_days {
            1 => "1 day".to_owned(),
            n => format!("{n} days"),
        }
    }
}

#[derive(FromRow)]
struct DeliveryRow {
    id: i64,
    name: String,
    price_cents: i64,
    estimated_days: i64,
    pickup: i64,
    active: i64,
}

impl TryFrom<DeliveryRow> for DeliveryOption {
    type Error = UnknownValue;

    fn try_from(row: DeliveryRow) -> Result<Self, Self::Error> {
        Ok(Self {
            id: row.id,
            name: row.name,
            price_cents: row.price_cents,
            estimated_days: row.estimated_days,
            pickup: flag(row.pickup, "pickup flag")?,
            active: flag(row.active, "active flag")?,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiscountCode {
    pub id: i64,
    pub code: String,
    pub rule: DiscountRule,
}

#[derive(FromRow)]
struct DiscountRow {
    id: i64,
    code: String,
    kind: String,
    amount: i64,
    min_subtotal_cents: i64,
    expires_at: Option<i64>,
    max_uses: Option<i64>,
    uses: i64,
    active: i64,
}

impl TryFrom<DiscountRow> for DiscountCode {
    type Error = UnknownValue;

    fn try_from(row: DiscountRow) -> Result<Self, Self::Error> {
        Ok(Self {
            id: row.id,
            code: row.code,
            rule: DiscountRule {
                kind: DiscountKind::try_from(row.kind)?,
                amount: row.amount,
                min_subtotal: Cents::new(row.min_subtotal_cents),
                expires_at: row.expires_at,
                max_uses: row.max_uses,
                uses: row.uses,
                active: flag(row.active, "active flag")?,
            },
        })
    }
}

const DELIVERY_COLUMNS: &str = "id, name, price_cents, estimated_days, pickup, active";
const DISCOUNT_COLUMNS: &str =
    "id, code, kind, amount, min_subtotal_cents, expires_at, max_uses, uses, active";

fn decoded<R, T: TryFrom<R, Error = UnknownValue>>(rows: Vec<R>) -> AppResult<Vec<T>> {
    rows.into_iter()
        .map(|row| T::try_from(row).map_err(AppError::from))
        .collect()
}

fn decoded_one<R, T: TryFrom<R, Error = UnknownValue>>(row: Option<R>) -> AppResult<Option<T>> {
    row.map(|row| T::try_from(row).map_err(AppError::from))
        .transpose()
}

impl Db {
    /// Delivery options in the order checkout offers them; `include_inactive` for staff.
    pub async fn delivery_options(&self, include_inactive: bool) -> AppResult<Vec<DeliveryOption>> {
        let sql = if include_inactive {
            const_format::concatcp!(
                "SELECT ",
                DELIVERY_COLUMNS,
                " FROM delivery_options ORDER BY sort_order, id"
            )
        } else {
            const_format::concatcp!(
                "SELECT ",
                DELIVERY_COLUMNS,
                " FROM delivery_options WHERE active = 1 ORDER BY sort_order, id"
            )
        };
        let rows: Vec<DeliveryRow> = self.query_as(sql).fetch_all(self.pool()).await?;
        decoded(rows)
    }

    pub async fn delivery_option(&self, id: i64) -> AppResult<Option<DeliveryOption>> {
        let row: Option<DeliveryRow> = self
            .query_as(const_format::concatcp!(
                "SELECT ",
                DELIVERY_COLUMNS,
                " FROM delivery_options WHERE id = ?"
            ))
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        decoded_one(row)
    }

    pub async fn create_delivery_option(&self, details: &DeliveryDetails) -> AppResult<i64> {
        let id = new_id();
        self.query(
            "INSERT INTO delivery_options (id, name, price_cents, estimated_days, pickup, active, sort_order) \
             VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(id)
        .bind(&details.name)
        .bind(details.price.get())
        .bind(details.estimated_days)
        .bind(i64::from(details.pickup))
        .bind(i64::from(details.active))
        // After the options there are: the seeded ones count 1, 2, 3.
        .bind(now_ms())
        .execute(self.pool())
        .await
        .map_err(|e| on_unique_violation(e, "A delivery option has that name already."))?;
        Ok(id)
    }

    pub async fn update_delivery_option(
        &self,
        id: i64,
        details: &DeliveryDetails,
    ) -> AppResult<()> {
        let done = self
            .query(
                "UPDATE delivery_options SET name = ?, price_cents = ?, estimated_days = ?, pickup = ?, active = ? \
                 WHERE id = ?",
            )
            .bind(&details.name)
            .bind(details.price.get())
            .bind(details.estimated_days)
            .bind(i64::from(details.pickup))
            .bind(i64::from(details.active))
            .bind(id)
            .execute(self.pool())
            .await
            .map_err(|e| on_unique_violation(e, "A delivery option has that name already."))?;
        super::catalog::found(done, "That delivery option")
    }

    pub async fn discount_codes(&self) -> AppResult<Vec<DiscountCode>> {
        let rows: Vec<DiscountRow> = self
            .query_as(const_format::concatcp!(
                "SELECT ",
                DISCOUNT_COLUMNS,
                " FROM discount_codes ORDER BY created_at DESC, id"
            ))
            .fetch_all(self.pool())
            .await?;
        decoded(rows)
    }

    /// The code as stored (upper-case), if there is one.
    pub async fn discount_code(&self, code: &str) -> AppResult<Option<DiscountCode>> {
        let row: Option<DiscountRow> = self
            .query_as(const_format::concatcp!(
                "SELECT ",
                DISCOUNT_COLUMNS,
                " FROM discount_codes WHERE code = ?"
            ))
            .bind(code)
            .fetch_optional(self.pool())
            .await?;
        decoded_one(row)
    }

    pub async fn discount_code_by_id(&self, id: i64) -> AppResult<Option<DiscountCode>> {
        let row: Option<DiscountRow> = self
            .query_as(const_format::concatcp!(
                "SELECT ",
                DISCOUNT_COLUMNS,
                " FROM discount_codes WHERE id = ?"
            ))
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        decoded_one(row)
    }

    pub async fn create_discount_code(&self, details: &DiscountDetails) -> AppResult<i64> {
        let id = new_id();
        self.query(
            "INSERT INTO discount_codes (id, code, kind, amount, min_subtotal_cents, expires_at, max_uses, uses, active, created_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?, ?)",
        )
        .bind(id)
        .bind(details.code.as_str())
        .bind(details.kind.as_str())
        .bind(details.amount)
        .bind(details.min_subtotal.get())
        .bind(details.expires_at)
        .bind(details.max_uses)
        .bind(i64::from(details.active))
        .bind(now_ms())
        .execute(self.pool())
        .await
        .map_err(|e| on_unique_violation(e, "That discount code exists already."))?;
        Ok(id)
    }

    /// Changes a code's terms; the uses so far stay.
    pub async fn update_discount_code(&self, id: i64, details: &DiscountDetails) -> AppResult<()> {
        let done = self
            .query(
                "UPDATE discount_codes SET code = ?, kind = ?, amount = ?, min_subtotal_cents = ?, \
                 expires_at = ?, max_uses = ?, active = ? WHERE id = ?",
            )
            .bind(details.code.as_str())
            .bind(details.kind.as_str())
            .bind(details.amount)
            .bind(details.min_subtotal.get())
            .bind(details.expires_at)
            .bind(details.max_uses)
            .bind(i64::from(details.active))
            .bind(id)
            .execute(self.pool())
            .await
            .map_err(|e| on_unique_violation(e, "That discount code exists already."))?;
        super::catalog::found(done, "That discount code")
    }

    /// Counts one use of a code inside a checkout, if its terms still allow it at `now_ms`
    /// for goods worth `subtotal`: the same rules as [`DiscountRule::applies`], checked
    /// again under the row's lock, so concurrent checkouts never use a code more often
    /// than it allows.
    pub(super) async fn take_discount_use(
        &self,
        tx: &mut Tx,
        id: i64,
        subtotal: Cents,
        now_ms: i64,
    ) -> Result<bool, sqlx::Error> {
        let done = self
            .query(
                "UPDATE discount_codes SET uses = uses + 1 WHERE id = ? AND active = 1 \
                 AND (expires_at IS NULL OR expires_at > ?) AND (max_uses IS NULL OR uses < max_uses) \
                 AND min_subtotal_cents <= ?",
            )
            .bind(id)
            .bind(now_ms)
            .bind(subtotal.get())
            .execute(&mut **tx)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Gives back the use a cancelled order made of its code.
    pub(super) async fn give_back_discount_use(
        &self,
        tx: &mut Tx,
        code: &str,
    ) -> Result<(), sqlx::Error> {
        self.query("UPDATE discount_codes SET uses = uses - 1 WHERE code = ? AND uses > 0")
            .bind(code)
            .execute(&mut **tx)
            .await?;
        Ok(())
    }
}
