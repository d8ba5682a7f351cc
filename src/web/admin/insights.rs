//! The insights page: the report of a period (see [`crate::services::insights`]) with three
//! of its figures drawn as bar charts. A period that cannot be read is said above the
//! report of the last 30 days, so the page is never empty.

use askama::Template;
use axum::extract::{Query, State};
use axum::response::Response;

use super::{layout, render_page};
use crate::domain::Cents;
use crate::services::insights::{self, Insights, Period};
use crate::state::AppState;
use crate::web::charts::BarChart;
use crate::web::{Layout, PageResult, Staff};

#[derive(serde::Deserialize)]
pub(super) struct PeriodQuery {
    from: Option<String>,
    to: Option<String>,
}

#[derive(Template)]
#[template(path = "admin/insights.html")]
struct InsightsPage {
    layout: Layout,
    report: Insights,
    revenue_chart: String,
    hours_chart: String,
    funnel_chart: String,
    /// Why the period asked for was not used.
    error: Option<String>,
}

pub(super) async fn show(
    State(state): State<AppState>,
    Staff(staff): Staff,
    Query(query): Query<PeriodQuery>,
) -> PageResult<Response> {
    let today = insights::today();
    let (period, error) = match Period::parse(query.from.as_deref(), query.to.as_deref(), today) {
        Ok(period) => (period, None),
        Err(error) => (
            Period::parse(None, None, today)?,
            Some(error.public_message()),
        ),
    };
    let report = insights::report(&state.services, period).await?;
    let page = InsightsPage {
        revenue_chart: revenue_chart(&report),
        hours_chart: hours_chart(&report),
        funnel_chart: funnel_chart(&report),
        layout: layout(&state, &staff, "Insights").await?,
        report,
        error,
    };
    Ok(render_page(&page, page.error.is_some()))
}

fn revenue_chart(report: &Insights) -> String {
    let days: Vec<String> = report
        .daily
        .iter()
        .map(|day| month_and_day(&day.label).to_owned())
        .collect();
    let revenue: Vec<i64> = report.daily.iter().map(|day| day.revenue_cents).collect();
    BarChart::new(
        "revenue",
        "Revenue per day",
        ("Day", "Revenue"),
        &days,
        &revenue,
        |cents| Cents::new(cents).to_string(),
    )
    .svg()
}

fn hours_chart(report: &Insights) -> String {
    let hours: Vec<String> = (0..24).map(|hour| format!("{hour:02}h")).collect();
    BarChart::new(
        "hours",
        "Orders by hour of the day (UTC)",
        ("Hour (UTC)", "Orders"),
        &hours,
        &report.orders_by_hour,
        |orders| orders.to_string(),
    )
    .svg()
}

fn funnel_chart(report: &Insights) -> String {
    let steps: Vec<String> = report.funnel.iter().map(|s| s.step.to_owned()).collect();
    let counts: Vec<i64> = report.funnel.iter().map(|s| s.count).collect();
    BarChart::new(
        "funnel",
        "From product view to order",
        ("Step", "Events"),
        &steps,
        &counts,
        |events| events.to_string(),
    )
    .svg()
}

/// A day's label under its bar: `03-31` for `2026-03-31`, so a month of bars stays legible.
fn month_and_day(date: &str) -> &str {
    date.get(5..).unwrap_or(date)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_day_is_labelled_by_month_and_day_and_a_short_label_is_kept_whole() {
        assert_eq!(month_and_day("2026-03-31"), "03-31");
        assert_eq!(month_and_day("2026"), "2026");
    }
}
