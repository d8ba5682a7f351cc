//! The OpenAPI 3 document, generated from the handlers' annotations.

use axum::Json;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::handlers;
use super::model::*;
use crate::services::accounts::{ProfileEdit, Registration};

#[derive(OpenApi)]
#[openapi(
    info(title = "Coffee Radar API", version = "1", description = "The Coffee Radar shop: accounts, catalog, cart, orders and the coffee Radar. Money is in integer cents."),
    paths(
        handlers::register, handlers::sign_in, handlers::sign_out, handlers::me, handlers::update_me,
        handlers::upload_photo, handlers::products, handlers::product, handlers::cart, handlers::add_cart_item,
        handlers::update_cart_item, handlers::remove_cart_item, handlers::place_order, handlers::orders,
        handlers::order, handlers::cancel_order, handlers::places, handlers::insights,
    ),
    components(schemas(Registration, ProfileEdit, UserOut, ProductOut, VariantOut, CartOut, CartLineOut, OrderOut,
        OrderLineOut, PlaceOut, ErrorOut, SignIn, AddItem, SetQuantity, PlaceOrder)),
    modifiers(&SessionCookie),
)]
struct ApiDoc;

struct SessionCookie;

impl Modify for SessionCookie {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        if let Some(components) = openapi.components.as_mut() {
            components.add_security_scheme(
                "session",
                SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new(
                    crate::auth::SESSION_COOKIE,
                ))),
            );
        }
    }
}

pub async fn document() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
