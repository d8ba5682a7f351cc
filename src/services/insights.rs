//! Sales and interaction insights for staff: revenue and orders per day and week, top
//! products and variants, average order value, new and returning customers, the funnel
//! from product view to order, stock that will run out at the current pace, and the
//! busiest hours. A handful of queries fetch the rows of the period (see
//! [`crate::db::insights`]); the figures are computed here, the same way on every database.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;
use time::{Date, Duration, OffsetDateTime};

use super::Services;
use crate::db::insights::{LineFact, SalesFacts};
use crate::error::{AppError, AppResult};

/// Days from `from` to `to`, both included (UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    pub from: Date,
    pub to: Date,
}

impl Period {
    /// The longest period one report covers.
    pub const MAX_DAYS: i64 = 731;

    /// Dates a report may cover: the shop keeps UTC milliseconds since 1970, and every day
    /// of a period must have a next day.
    const EARLIEST: Date = time::macros::date!(1970 - 01 - 01);
    const LATEST: Date = time::macros::date!(9999 - 12 - 30);

    /// From `YYYY-MM-DD` texts; missing ends default to the 30 days up to `today`.
    pub fn parse(from: Option<&str>, to: Option<&str>, today: Date) -> Result<Self, AppError> {
        let format = time::macros::format_description!("[year]-[month]-[day]");
        let parse = |text: Option<&str>, default: Date, field: &str| {
            let date = match text.map(str::trim).filter(|t| !t.is_empty()) {
                None => default,
                Some(text) => Date::parse(text, &format)
                    .map_err(|_| AppError::invalid(field, "Dates look like 2026-03-31."))?,
            };
            if (Self::EARLIEST..=Self::LATEST).contains(&date) {
                Ok(date)
            } else {
                Err(AppError::invalid(
                    field,
                    format!("Dates go from {} to {}.", Self::EARLIEST, Self::LATEST),
                ))
            }
        };
        let to = parse(to, today, "to")?;
        let default_from = to
            .checked_sub(Duration::days(29))
            .unwrap_or(Self::EARLIEST)
            .max(Self::EARLIEST);
        let from = parse(from, default_from, "from")?;
        if from > to {
            return Err(AppError::invalid(
                "from",
                "The period must start before it ends.",
            ));
        }
        if (to - from).whole_days() >= Self::MAX_DAYS {
            return Err(AppError::invalid(
                "from",
                "A report covers at most two years.",
            ));
        }
        Ok(Self { from, to })
    }

    fn start_ms(self) -> i64 {
        midnight_ms(self.from)
    }

    fn end_ms(self) -> i64 {
        midnight_ms(self.to + Duration::days(1))
    }

    fn days(self) -> i64 {
        (self.to - self.from).whole_days() + 1
    }
}

fn midnight_ms(date: Date) -> i64 {
    (date.midnight().assume_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

fn utc(ms: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Insights {
    pub from: String,
    pub to: String,
    pub orders: i64,
    /// What the orders brought in, net of refunds.
    pub revenue_cents: i64,
    pub average_order_cents: i64,
    /// Of the revenue, what delivery was charged.
    pub delivery_cents: i64,
    /// What discount codes took off.
    pub discount_cents: i64,
    pub daily: Vec<PeriodFigure>,
    pub weekly: Vec<PeriodFigure>,
    pub top_products: Vec<TopSeller>,
    pub top_variants: Vec<TopSeller>,
    pub customers: Customers,
    pub funnel: Vec<FunnelStep>,
    pub page_views: Vec<AreaViews>,
    pub running_out: Vec<StockForecast>,
    /// Orders placed in each hour of the day (UTC), 0 to 23.
    pub orders_by_hour: Vec<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PeriodFigure {
    /// `2026-03-02` for a day, `2026-W10` for an ISO week.
    pub label: String,
    pub orders: i64,
    pub revenue_cents: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TopSeller {
    pub name: String,
    pub units: i64,
    pub revenue_cents: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Customers {
    /// Customers whose first order ever falls in the period.
    pub new: i64,
    /// Customers who had ordered before the period and ordered again in it.
    pub returning: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FunnelStep {
    pub step: &'static str,
    pub count: i64,
    /// Percent of the previous step that reached this one (one decimal); `None` first.
    pub rate_percent: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AreaViews {
    pub area: String,
    pub views: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StockForecast {
    pub variant_id: i64,
    pub name: String,
    pub stock: i64,
    pub units_per_day: f64,
    pub days_left: f64,
}

/// Stock lasting fewer days than this at the period's pace is flagged.
const RUNNING_OUT_DAYS: f64 = 30.0;
const TOP: usize = 5;

/// The figures of `period`, computed from the facts the database has for it.
pub async fn report(services: &Services, period: Period) -> AppResult<Insights> {
    let facts = services
        .db
        .sales_facts(period.start_ms(), period.end_ms())
        .await?;
    Ok(compute(period, &facts))
}

fn compute(period: Period, facts: &SalesFacts) -> Insights {
    let SalesFacts {
        orders,
        lines,
        first_orders,
        events,
        stock,
    } = facts;
    let net = |o: &crate::db::insights::OrderFact| o.total_cents - o.refunded_cents;
    let revenue_cents: i64 = orders.iter().map(net).sum();
    let delivery_cents: i64 = orders.iter().map(|o| o.delivery_cents).sum();
    let discount_cents: i64 = orders.iter().map(|o| o.discount_cents).sum();
    let count = orders.len() as i64;
    let average_order_cents = if count == 0 {
        0
    } else {
        (revenue_cents + count / 2) / count
    };

    let mut daily: BTreeMap<Date, PeriodFigure> = BTreeMap::new();
    let mut day = period.from;
    while day <= period.to {
        daily.insert(
            day,
            PeriodFigure {
                label: day.to_string(),
                orders: 0,
                revenue_cents: 0,
            },
        );
        day += Duration::days(1);
    }
    let mut weekly: BTreeMap<(i32, u8), PeriodFigure> = BTreeMap::new();
    for date in daily.keys() {
        let (year, week, _) = date.to_iso_week_date();
        weekly.entry((year, week)).or_insert_with(|| PeriodFigure {
            label: format!("{year}-W{week:02}"),
            orders: 0,
            revenue_cents: 0,
        });
    }
    let mut orders_by_hour = vec![0; 24];
    for order in orders {
        let at = utc(order.created_at);
        let (year, week, _) = at.date().to_iso_week_date();
        for figure in [daily.get_mut(&at.date()), weekly.get_mut(&(year, week))]
            .into_iter()
            .flatten()
        {
            figure.orders += 1;
            figure.revenue_cents += net(order);
        }
        orders_by_hour[usize::from(at.hour())] += 1;
    }

    let top = |key: &dyn Fn(&LineFact) -> String| {
        let mut sellers: HashMap<String, TopSeller> = HashMap::new();
        for line in lines {
            let name = key(line);
            let seller = sellers.entry(name.clone()).or_insert(TopSeller {
                name,
                units: 0,
                revenue_cents: 0,
            });
            seller.units += line.quantity;
            seller.revenue_cents += line.unit_price_cents * line.quantity;
        }
        let mut sellers: Vec<TopSeller> = sellers.into_values().collect();
        sellers.sort_by(|a, b| {
            b.revenue_cents
                .cmp(&a.revenue_cents)
                .then(b.units.cmp(&a.units))
                .then(a.name.cmp(&b.name))
        });
        sellers.truncate(TOP);
        sellers
    };
    let top_products = top(&|l| l.product_name.clone());
    let top_variants = top(&|l| format!("{} ({}, {})", l.product_name, l.color, l.size));

    let first: HashMap<i64, i64> = first_orders.iter().copied().collect();
    let mut buyers: Vec<i64> = orders.iter().filter_map(|o| o.user_id).collect();
    buyers.sort_unstable();
    buyers.dedup();
    let new = buyers
        .iter()
        .filter(|id| first.get(id).is_some_and(|at| *at >= period.start_ms()))
        .count() as i64;
    let customers = Customers {
        new,
        returning: buyers.len() as i64 - new,
    };

    let count_of = |kind: &str| {
        events
            .iter()
            .filter(|(k, _, _)| k == kind)
            .map(|(_, _, n)| n)
            .sum::<i64>()
    };
    let mut funnel: Vec<FunnelStep> = Vec::new();
    for (step, kind) in [
        ("Product viewed", "product_view"),
        ("Added to cart", "add_to_cart"),
        ("Checkout started", "checkout_started"),
        ("Order placed", "checkout_completed"),
    ] {
        let count = count_of(kind);
        let rate_percent = funnel.last().map(|previous: &FunnelStep| {
            if previous.count == 0 {
                0.0
            } else {
                (count as f64 * 1000.0 / previous.count as f64).round() / 10.0
            }
        });
        funnel.push(FunnelStep {
            step,
            count,
            rate_percent,
        });
    }
    let mut page_views: Vec<AreaViews> = events
        .iter()
        .filter(|(kind, _, _)| kind == "page_view")
        .map(|(_, area, n)| AreaViews {
            area: area.clone().unwrap_or_default(),
            views: *n,
        })
        .collect();
    page_views.sort_by(|a, b| b.views.cmp(&a.views).then(a.area.cmp(&b.area)));

    let mut sold: HashMap<i64, i64> = HashMap::new();
    for line in lines {
        *sold.entry(line.variant_id).or_default() += line.quantity;
    }
    let days = period.days() as f64;
    let mut running_out: Vec<StockForecast> = stock
        .iter()
        .filter_map(|v| {
            let units_per_day = *sold.get(&v.id)? as f64 / days;
            let days_left = (v.stock as f64 / units_per_day * 10.0).round() / 10.0;
            (days_left < RUNNING_OUT_DAYS).then(|| StockForecast {
                variant_id: v.id,
                name: format!("{} ({}, {})", v.name, v.color, v.size),
                stock: v.stock,
                units_per_day: (units_per_day * 100.0).round() / 100.0,
                days_left,
            })
        })
        .collect();
    running_out.sort_by(|a, b| a.days_left.total_cmp(&b.days_left));

    Insights {
        from: period.from.to_string(),
        to: period.to.to_string(),
        orders: count,
        revenue_cents,
        average_order_cents,
        delivery_cents,
        discount_cents,
        daily: daily.into_values().collect(),
        weekly: weekly.into_values().collect(),
        top_products,
        top_variants,
        customers,
        funnel,
        page_views,
        running_out,
        orders_by_hour,
    }
}

pub fn today() -> Date {
    OffsetDateTime::now_utc().date()
}

impl Insights {
    pub fn revenue(&self) -> crate::domain::Cents {
        crate::domain::Cents::new(self.revenue_cents)
    }

    pub fn average_order(&self) -> crate::domain::Cents {
        crate::domain::Cents::new(self.average_order_cents)
    }

    pub fn delivery(&self) -> crate::domain::Cents {
        crate::domain::Cents::new(self.delivery_cents)
    }

    pub fn discounts(&self) -> crate::domain::Cents {
        crate::domain::Cents::new(self.discount_cents)
    }
}

impl PeriodFigure {
    pub fn revenue(&self) -> crate::domain::Cents {
        crate::domain::Cents::new(self.revenue_cents)
    }
}

impl TopSeller {
    pub fn revenue(&self) -> crate::domain::Cents {
        crate::domain::Cents::new(self.revenue_cents)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::insights::{OrderFact, VariantStock};
    use time::macros::date;

    fn at(day: Date, hour: u8, minute: u8) -> i64 {
        day.with_hms(hour, minute, 0)
            .unwrap()
            .assume_utc()
            .unix_timestamp()
            * 1000
    }

    fn order(user_id: Option<i64>, total_cents: i64, created_at: i64) -> OrderFact {
        OrderFact {
            user_id,
            total_cents,
            delivery_cents: 0,
            discount_cents: 0,
            refunded_cents: 0,
            created_at,
        }
    }

    fn line(variant_id: i64, product: &str, unit_price_cents: i64, quantity: i64) -> LineFact {
        LineFact {
            variant_id,
            product_name: product.into(),
            color: "Black".into(),
            size: "U".into(),
            unit_price_cents,
            quantity,
        }
    }

    fn stock(id: i64, name: &str, stock: i64) -> VariantStock {
        VariantStock {
            id,
            name: name.into(),
            color: "Black".into(),
            size: "U".into(),
            stock,
        }
    }

    /// A week worked out by hand: four orders (one a guest's), two products, one shopper
    /// back from before the week and one new.
    #[test]
    fn the_figures_of_a_week_match_the_sums_done_by_hand() {
        let period = Period {
            from: date!(2026 - 03 - 02),
            to: date!(2026 - 03 - 08),
        };
        let facts = SalesFacts {
            orders: vec![
                OrderFact {
                    delivery_cents: 495,
                    discount_cents: 100,
                    ..order(Some(1), 1000, at(date!(2026 - 03 - 02), 10, 0))
                },
                order(Some(1), 2000, at(date!(2026 - 03 - 03), 14, 5)),
                order(Some(2), 3000, at(date!(2026 - 03 - 03), 14, 40)),
                // A guest's $8.00 order, $3.00 of it refunded: it counts $5.00.
                OrderFact {
                    refunded_cents: 300,
                    ..order(None, 800, at(date!(2026 - 03 - 05), 9, 0))
                },
            ],
            lines: vec![
                line(7, "Mug", 1000, 1),
                line(7, "Mug", 1000, 2),
                line(8, "Shirt", 1500, 2),
                line(7, "Mug", 500, 1),
            ],
            first_orders: vec![
                (1, at(date!(2026 - 02 - 15), 8, 0)),
                (2, at(date!(2026 - 03 - 03), 14, 40)),
            ],
            events: vec![
                ("product_view".into(), None, 100),
                ("add_to_cart".into(), None, 20),
                ("checkout_started".into(), None, 10),
                ("checkout_completed".into(), None, 4),
                ("page_view".into(), Some("shop".into()), 30),
                ("page_view".into(), Some("home".into()), 50),
            ],
            stock: vec![stock(7, "Mug", 5), stock(8, "Shirt", 1000)],
        };
        let report = compute(period, &facts);

        assert_eq!((report.orders, report.revenue_cents), (4, 6500));
        assert_eq!(report.average_order_cents, 1625);
        assert_eq!((report.delivery_cents, report.discount_cents), (495, 100));
        assert_eq!(report.daily.len(), 7, "every day of the week, sales or not");
        let march_3 = &report.daily[1];
        assert_eq!((march_3.label.as_str(), march_3.orders), ("2026-03-03", 2));
        assert_eq!(march_3.revenue_cents, 5000);
        assert_eq!(report.weekly.len(), 1, "2 to 8 March is ISO week 10");
        assert_eq!(report.weekly[0].label, "2026-W10");
        assert_eq!(
            (report.orders_by_hour[14], report.orders_by_hour[9]),
            (2, 1)
        );
        assert_eq!((report.customers.new, report.customers.returning), (1, 1));

        let top = &report.top_products;
        assert_eq!((top[0].name.as_str(), top[0].revenue_cents), ("Mug", 3500));
        assert_eq!((top[0].units, top[1].name.as_str()), (4, "Shirt"));
        let rates: Vec<Option<f64>> = report.funnel.iter().map(|s| s.rate_percent).collect();
        assert_eq!(rates, [None, Some(20.0), Some(50.0), Some(40.0)]);
        assert_eq!(report.page_views[0].area, "home", "busiest area first");

        // Mugs: 4 sold in 7 days, 5 left: 8.8 days. Shirts last for years.
        assert_eq!(report.running_out.len(), 1);
        let mugs = &report.running_out[0];
        assert_eq!((mugs.variant_id, mugs.days_left), (7, 8.8));
        assert_eq!(mugs.units_per_day, 0.57);
    }

    #[test]
    fn periods_default_to_the_last_30_days_and_refuse_nonsense() {
        let today = date!(2026 - 03 - 31);
        assert_eq!(
            Period::parse(None, None, today).unwrap(),
            Period {
                from: date!(2026 - 03 - 02),
                to: today
            }
        );
        assert!(Period::parse(Some("2026-04-01"), Some("2026-03-01"), today).is_err());
        assert!(Period::parse(Some("yesterday"), None, today).is_err());
        assert!(Period::parse(Some("2020-01-01"), Some("2026-01-01"), today).is_err());
    }
}
