//! Staff pages, one module per resource:
//!
//! - [`products`]: the product list, the form for a new product and for editing one, its
//!   picture, and the rows of its variants (add one, change one);
//! - [`orders`]: every order, filtered by status, moved on to its next step or cancelled,
//!   and each order's own page;
//! - [`users`]: who is registered, searched by name or email;
//! - [`checkout`]: the delivery options and discount codes checkout offers;
//! - [`insights`]: revenue, busy hours and the way from product view to order, as charts
//!   over a period.
//!
//! Every handler takes [`Staff`], so a shopper is refused and a visitor sent to sign in.
//! The handlers only translate: the use cases are in `services::staff` and
//! `services::insights`, and what makes a product or a variant valid is in `domain`.

mod checkout;
mod insights;
mod orders;
mod products;
mod users;

use askama::Template;
use axum::Router;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};

use super::{Layout, SignedIn, render_with_status};
use crate::error::AppError;
use crate::state::AppState;

pub fn router(state: AppState) -> Router<AppState> {
    Router::new()
        .route("/admin", get(products::list))
        .route(
            "/admin/products",
            get(products::list).post(products::create),
        )
        .route("/admin/products/new", get(products::new_form))
        .route(
            "/admin/products/{id}",
            get(products::edit_form).post(products::update),
        )
        .route(
            "/admin/products/{id}/picture",
            post(products::upload_picture).layer(crate::app::upload_body_limit(&state)),
        )
        .route(
            "/admin/products/{id}/color-pictures",
            post(products::upload_color_picture).layer(crate::app::upload_body_limit(&state)),
        )
        .route(
            "/admin/products/{id}/color-pictures/remove",
            post(products::remove_color_picture),
        )
        .route(
            "/admin/products/{id}/variants",
            post(products::create_variant),
        )
        .route("/admin/variants/{id}", post(products::update_variant))
        .route("/admin/orders", get(orders::list))
        .route("/admin/orders/{code}", get(orders::show))
        .route("/admin/orders/{code}/advance", post(orders::advance))
        .route("/admin/orders/{code}/cancel", post(orders::cancel))
        .route("/admin/users", get(users::search))
        .route("/admin/insights", get(insights::show))
        .route("/admin/checkout", get(checkout::show))
        .route("/admin/delivery-options", post(checkout::create_delivery))
        .route(
            "/admin/delivery-options/{id}",
            post(checkout::update_delivery),
        )
        .route("/admin/discount-codes", post(checkout::create_discount))
        .route(
            "/admin/discount-codes/{id}",
            post(checkout::update_discount),
        )
}

/// The layout of a staff page, with the admin entry as the current one in the navigation.
async fn layout(
    state: &AppState,
    staff: &SignedIn,
    title: impl Into<String>,
) -> Result<Layout, AppError> {
    Layout::load(state, &staff.visitor, title, "admin").await
}

/// Draws a staff page. One that shows what the request got wrong (a refused form, a period
/// that could not be read) is answered 422, so that it is not taken for a success.
fn render_page(page: &impl Template, shows_refusal: bool) -> Response {
    let status = if shows_refusal {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    render_with_status(status, page)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Template)]
    #[template(source = "<p>{{ note }}</p>", ext = "html")]
    struct NotePage {
        note: &'static str,
    }

    #[test]
    fn a_page_that_shows_a_refusal_is_answered_422_and_any_other_200() {
        let refused = render_page(&NotePage { note: "refused" }, true);
        assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let shown = render_page(&NotePage { note: "fine" }, false);
        assert_eq!(shown.status(), StatusCode::OK);
    }
}
