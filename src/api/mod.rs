//! JSON API v1, for mobile clients and automated testing. It calls the same services as
//! the pages; errors are `{"error": "..."}` with the right status.

pub mod extract;
pub mod handlers;
pub mod model;
pub mod openapi;

use axum::Router;
use axum::extract::Request;
use axum::http::{Method, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post, put};

use crate::error::AppError;
use crate::state::AppState;

pub fn router(state: &AppState) -> Router<AppState> {
    use handlers::*;
    let v1 = Router::new()
        .route("/users", post(register))
        .route("/sessions", post(sign_in).delete(sign_out))
        .route("/me", get(me).patch(update_me))
        .route(
            "/me/photo",
            put(upload_photo).layer(crate::app::upload_body_limit(state)),
        )
        .route("/products", get(products))
        .route("/products/{id}", get(product))
        .route("/cart", get(cart))
        .route("/cart/items", post(add_cart_item))
        .route(
            "/cart/items/{variant_id}",
            patch(update_cart_item).delete(remove_cart_item),
        )
        .route("/delivery-options", get(delivery_options))
        .route("/checkout/quote", post(quote))
        .route("/orders", get(orders).post(place_order))
        .route("/orders/{code}", get(order))
        .route("/orders/{code}/cancel", post(cancel_order))
        .route("/orders/{code}/payment/check", post(check_payment))
        .route("/places", get(places))
        .route("/admin/insights", get(insights))
        .route(
            "/admin/delivery-options",
            get(staff_delivery_options).post(create_delivery_option),
        )
        .route("/admin/delivery-options/{id}", put(update_delivery_option))
        .route(
            "/admin/discount-codes",
            get(staff_discount_codes).post(create_discount_code),
        )
        .route("/admin/discount-codes/{id}", put(update_discount_code))
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn(refuse_form_content_types));
    Router::new()
        .nest("/v1", v1)
        .route("/openapi.json", get(openapi::document))
        .fallback(|| async { AppError::NotFound("There is no such API endpoint.".into()) })
}

/// A known endpoint called with a method it does not take (the router adds Allow).
async fn method_not_allowed(method: Method) -> AppError {
    AppError::MethodNotAllowed(format!(
        "This endpoint does not take {method}: the Allow header lists the methods it takes."
    ))
}

/// Cookie-authenticated writes must not be sendable by a cross-site HTML form, so the API
/// refuses the content types such a form can send. (JSON and image bodies need a CORS
/// preflight that this API never grants.)
async fn refuse_form_content_types(request: Request, next: Next) -> Response {
    let unsafe_method = !matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    );
    let form_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.to_ascii_lowercase())
        .is_some_and(|v| {
            [
                "application/x-www-form-urlencoded",
                "multipart/form-data",
                "text/plain",
            ]
            .iter()
            .any(|t| v.starts_with(t))
        });
    if unsafe_method && form_type {
        return AppError::UnsupportedMediaType(
            "The API takes JSON (or an image for photos), not form data.".into(),
        )
        .into_response();
    }
    next.run(request).await
}
