//! Orders of the Flask shop. Its order_table has one row per order line; the lines of one
//! order share its code (`orderid`). An order is imported whole or not at all: one bad
//! line skips its order, so that a rerun after fixing the source imports it complete.

use std::collections::{BTreeSet, HashMap};

use anyhow::Context;
use indicatif::ProgressBar;

use super::catalog::{CatalogMatch, VariantTarget};
use super::summary::ImportSummary;
use super::users::Accounts;
use crate::db::Db;
use crate::db::flask_source::FlaskOrderRow;
use crate::db::imported::{ImportedLine, ImportedOrder};
use crate::domain::{Cents, OrderCode, OrderStatus, Username};

/// The old shop recorded no shipping address; this text marks an imported order too.
pub const NOT_RECORDED: &str = "Not recorded by the original shop";

/// The rows of one order code, in the order they were read.
pub struct OrderRows {
    /// Trimmed and upper-cased; empty for rows without a code.
    code: String,
    rows: Vec<FlaskOrderRow>,
}

/// An order that passed every check, ready to write.
pub struct NewOrder {
    pub code: OrderCode,
    pub username: Username,
    /// The order's day at 00:00 UTC: the old shop kept no time of day.
    pub created_at: i64,
    pub lines: Vec<NewLine>,
}

pub struct NewLine {
    pub row_id: i64,
    pub product: String,
    pub color: String,
    /// Normalised: `200` became `200 ml`.
    pub size: String,
    pub unit_price_cents: i64,
    pub quantity: i64,
}

impl NewOrder {
    fn total_cents(&self) -> i64 {
        self.lines
            .iter()
            .map(|line| line.unit_price_cents * line.quantity)
            .sum()
    }
}

pub fn group_by_code(rows: Vec<FlaskOrderRow>) -> Vec<OrderRows> {
    let mut groups: Vec<OrderRows> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for row in rows {
        let code = row
            .order_code
            .as_deref()
            .unwrap_or_default()
            .trim()
            .to_ascii_uppercase();
        let at = *index.entry(code.clone()).or_insert_with(|| {
            groups.push(OrderRows {
                code,
                rows: Vec::new(),
            });
            groups.len() - 1
        });
        groups[at].rows.push(row);
    }
    groups
}

/// Checks every order and keeps those not imported yet; the rest are counted or reported.
pub async fn select_new_orders(
    db: &Db,
    groups: Vec<OrderRows>,
    summary: &mut ImportSummary,
    progress: &ProgressBar,
) -> anyhow::Result<Vec<NewOrder>> {
    let mut new_orders = Vec::new();
    for group in groups {
        let order = match validate(&group) {
            Ok(order) => order,
            Err(why) => {
                summary
                    .orders_skipped
                    .push(format!("{}: {why}", group.label()));
                progress.inc(1);
                continue;
            }
        };
        match existing_order(db, &order).await? {
            Existing::Nothing => new_orders.push(order),
            Existing::Imported => {
                summary.orders_already_imported += 1;
                progress.inc(1);
            }
            Existing::OtherOrder => {
                summary.orders_skipped.push(format!(
                    "{}: an order placed in this shop already has that code",
                    order.code
                ));
                progress.inc(1);
            }
        }
    }
    Ok(new_orders)
}

/// Writes each order with its lines in a transaction of its own.
pub async fn import_orders(
    db: &Db,
    catalog: &CatalogMatch,
    accounts: &Accounts,
    orders: Vec<NewOrder>,
    summary: &mut ImportSummary,
    progress: &ProgressBar,
) -> anyhow::Result<()> {
    for order in orders {
        import_order(db, catalog, accounts, &order, summary)
            .await
            .with_context(|| format!("importing order {}", order.code))?;
        progress.inc(1);
    }
    Ok(())
}

async fn import_order(
    db: &Db,
    catalog: &CatalogMatch,
    accounts: &Accounts,
    order: &NewOrder,
    summary: &mut ImportSummary,
) -> anyhow::Result<()> {
    let Some(targets) = order
        .lines
        .iter()
        .map(|line| catalog.target_of(line))
        .collect::<Option<Vec<_>>>()
    else {
        summary
            .orders_skipped
            .push(format!("{}: a line matches no product", order.code));
        return Ok(());
    };
    // Only an account imported from users_table (now or before) gets the order: a
    // stranger who registered the same name here must not see someone else's history.
    let user_id = accounts.get(order.username.as_str()).copied();
    match insert_order(db, order, user_id, &targets).await {
        Ok(()) => {
            summary.orders_imported += 1;
            summary.lines_imported += order.lines.len();
            if user_id.is_none() {
                *summary
                    .unknown_users
                    .entry(order.username.to_string())
                    .or_default() += 1;
            }
        }
        // Another run imported it meanwhile.
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
            summary.orders_already_imported += 1;
        }
        Err(other) => return Err(other.into()),
    }
    Ok(())
}

async fn insert_order(
    db: &Db,
    order: &NewOrder,
    user_id: Option<i64>,
    targets: &[&VariantTarget],
) -> Result<(), sqlx::Error> {
    let lines = order
        .lines
        .iter()
        .zip(targets)
        .map(|(line, target)| ImportedLine {
            product_id: target.product_id,
            variant_id: target.variant_id,
            product_name: &target.product_name,
            color: &target.color,
            size: &target.size,
            unit_price_cents: line.unit_price_cents,
            quantity: line.quantity,
        })
        .collect();
    db.insert_imported_order(&ImportedOrder {
        code: order.code.as_str(),
        user_id,
        username: order.username.as_str(),
        // The old shop's orders are history: they were delivered long ago.
        status: OrderStatus::Delivered,
        total_cents: order.total_cents(),
        shipping_address: NOT_RECORDED,
        created_at: order.created_at,
        lines,
    })
    .await
}

enum Existing {
    Nothing,
    Imported,
    /// The code of an order placed in this shop, which happens to equal an old one.
    OtherOrder,
}

async fn existing_order(db: &Db, order: &NewOrder) -> anyhow::Result<Existing> {
    Ok(
        match db.order_username_and_address(order.code.as_str()).await? {
            None => Existing::Nothing,
            Some((username, address))
                if username == order.username.as_str() && address == NOT_RECORDED =>
            {
                Existing::Imported
            }
            Some(_) => Existing::OtherOrder,
        },
    )
}

// --- checks ---

impl OrderRows {
    fn label(&self) -> String {
        if self.code.is_empty() {
            "rows without an orderid".into()
        } else {
            self.code.clone()
        }
    }
}

fn validate(group: &OrderRows) -> Result<NewOrder, String> {
    if group.code.is_empty() {
        let ids: Vec<String> = group.rows.iter().map(|r| r.row_id.to_string()).collect();
        return Err(format!("rows {} have no order code", ids.join(", ")));
    }
    let code = OrderCode::parse(&group.code)
        .ok_or_else(|| "the code is not 6 letters or digits".to_owned())?;
    let rows = group
        .rows
        .iter()
        .map(validate_row)
        .collect::<Result<Vec<_>, _>>()?;
    // One code on lines of two users (or two days) is two orders that collided, not one.
    let username = the_only("usernames", rows.iter().map(|r| r.username.as_str()))?;
    let day = the_only("dates", rows.iter().map(|r| r.day.as_str()))?;
    let username = Username::parse(username).map_err(|why| format!("username: {why}"))?;
    let created_at =
        day_start_ms(day).ok_or_else(|| format!("the date {day:?} is not a calendar date"))?;
    Ok(NewOrder {
        code,
        username,
        created_at,
        lines: rows.into_iter().map(|r| r.line).collect(),
    })
}

/// A line with the fields that must be the same on every line of its order.
struct ValidRow {
    line: NewLine,
    username: String,
    day: String,
}

fn validate_row(row: &FlaskOrderRow) -> Result<ValidRow, String> {
    let at_row = |why: String| format!("row {}: {why}", row.row_id);
    let username =
        Username::parse(&required(row.username.as_deref(), "username", 64).map_err(at_row)?)
            .map_err(|why| at_row(format!("username: {why}")))?;
    let product = required(row.product.as_deref(), "product", 200).map_err(at_row)?;
    let color = required(row.color.as_deref(), "colour", 60).map_err(at_row)?;
    let size = normalise_size(&required(row.size.as_deref(), "size", 30).map_err(at_row)?);
    if size.chars().count() > 30 {
        return Err(at_row("size longer than 30 characters".into()));
    }
    let day = required(row.day.as_deref(), "date", 10).map_err(at_row)?;
    let unit_price_cents = match row.price_cents {
        None => return Err(at_row("no price".into())),
        Some(cents) if cents < 0 => {
            return Err(at_row(format!(
                "negative price {}",
                Cents::new(cents).price_tag()
            )));
        }
        Some(cents) => cents,
    };
    let quantity = match row.quantity {
        None => return Err(at_row("no quantity".into())),
        Some(qty) if qty <= 0 => return Err(at_row(format!("quantity {qty} is not positive"))),
        Some(qty) => qty,
    };
    Ok(ValidRow {
        line: NewLine {
            row_id: row.row_id,
            product,
            color,
            size,
            unit_price_cents,
            quantity,
        },
        username: username.into_inner(),
        day,
    })
}

/// The trimmed text of a column that must be there and fit ours.
fn required(value: Option<&str>, what: &str, max_chars: usize) -> Result<String, String> {
    let text = value.unwrap_or_default().trim();
    if text.is_empty() {
        return Err(format!("no {what}"));
    }
    if text.chars().count() > max_chars {
        return Err(format!("{what} longer than {max_chars} characters"));
    }
    Ok(text.to_owned())
}

/// The single value all lines share, or an error naming the different ones.
fn the_only<'a>(what: &str, values: impl Iterator<Item = &'a str>) -> Result<&'a str, String> {
    let distinct: BTreeSet<&str> = values.collect();
    match distinct.len() {
        1 => Ok(distinct.into_iter().next().unwrap_or_default()),
        _ => Err(format!(
            "its lines have different {what}: {}",
            distinct.into_iter().collect::<Vec<_>>().join(", ")
        )),
    }
}

/// The old shop wrote mug sizes as bare millilitres (`200`); the catalog says `200 ml`.
pub fn normalise_size(size: &str) -> String {
    let size = size.trim();
    if !size.is_empty() && size.bytes().all(|b| b.is_ascii_digit()) {
        format!("{size} ml")
    } else {
        size.to_owned()
    }
}

/// `YYYY-MM-DD` at 00:00 UTC, in milliseconds.
fn day_start_ms(day: &str) -> Option<i64> {
    let mut parts = day.splitn(3, '-');
    let year: i32 = parts.next()?.parse().ok()?;
    let month: u8 = parts.next()?.parse().ok()?;
    let day_of_month: u8 = parts.next()?.parse().ok()?;
    let month = time::Month::try_from(month).ok()?;
    let date = time::Date::from_calendar_date(year, month, day_of_month).ok()?;
    Some(date.midnight().assume_utc().unix_timestamp() * 1000)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: i64, code: &str, username: &str, qty: i64) -> FlaskOrderRow {
        FlaskOrderRow {
            row_id: id,
            order_code: Some(code.into()),
            username: Some(username.into()),
            product: Some("Coffee Radar Mug".into()),
            price_cents: Some(1300),
            quantity: Some(qty),
            color: Some("White".into()),
            size: Some("200".into()),
            day: Some("2022-06-11".into()),
        }
    }

    #[test]
    fn lines_are_grouped_by_order_code_and_sizes_normalised() {
        let groups = group_by_code(vec![
            row(1, "KNKUJ1", "daniela", 1),
            row(2, "5VAPCR", "daniela", 1),
            row(3, "knkuj1 ", "Daniela", 2),
        ]);
        assert_eq!(groups.len(), 2);
        let order = validate(&groups[0]).unwrap();
        assert_eq!(order.code.as_str(), "KNKUJ1");
        assert_eq!(order.username.as_str(), "daniela");
        assert_eq!(order.lines.len(), 2);
        assert_eq!(order.lines[0].size, "200 ml");
        assert_eq!(order.total_cents(), 3 * 1300);
        assert_eq!(order.created_at, 1_654_905_600_000);
    }

    #[test]
    fn one_bad_line_skips_its_order_with_a_reason() {
        let bad_quantity = group_by_code(vec![
            row(1, "QTY000", "daniela", 1),
            row(27, "QTY000", "daniela", 0),
        ]);
        assert_eq!(
            validate(&bad_quantity[0]).err().unwrap(),
            "row 27: quantity 0 is not positive"
        );
        let two_users = group_by_code(vec![
            row(1, "AAAAAA", "daniela", 1),
            row(2, "AAAAAA", "newuser", 1),
        ]);
        assert!(
            validate(&two_users[0])
                .err()
                .unwrap()
                .contains("different usernames")
        );
        let mut no_color = row(5, "BBBBBB", "daniela", 1);
        no_color.color = None;
        assert_eq!(
            validate(&group_by_code(vec![no_color])[0]).err().unwrap(),
            "row 5: no colour"
        );
        assert!(validate(&group_by_code(vec![row(6, "TOOLONG", "daniela", 1)])[0]).is_err());
    }

    #[test]
    fn sizes_in_bare_numbers_are_millilitres() {
        assert_eq!(normalise_size("200"), "200 ml");
        assert_eq!(normalise_size("U"), "U");
        assert_eq!(normalise_size("350 ml"), "350 ml");
        assert_eq!(day_start_ms("0000-00-00"), None);
    }
}
