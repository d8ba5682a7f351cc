//! The API's endpoints. Each is a thin translation between JSON and a service call.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum_extra::extract::CookieJar;

use super::extract::{ApiBytes, ApiJson, ApiPath, ApiQuery, ApiStaff, ApiUser};
use super::model::*;
use crate::auth::{self, Visitor};
use crate::db::cart::CartOwner;
use crate::domain::OrderStatus;
use crate::domain::checkout::{DeliveryFields, DiscountFields};
use crate::domain::geo::Coordinates;
use crate::domain::pricing::Totals;
use crate::error::{AppError, AppResult};
use crate::services::accounts::{self, ProfileEdit, Registration};
use crate::services::catalog::{self, CatalogFilter, ProductRef};
use crate::services::insights::{self, Period};
use crate::services::{checkout, payments, radar, shop, staff};
use crate::state::AppState;

type Created<T> = (StatusCode, Json<T>);

/// Register a new shopper.
#[utoipa::path(post, path = "/api/v1/users", request_body = Registration, tag = "accounts",
    responses((status = 201, body = UserOut), (status = 409, body = ErrorOut, description = "Username or email taken"),
               (status = 422, body = ErrorOut, description = "Invalid fields, with a message per field"),
               (status = 429, body = ErrorOut, description = "Too many accounts created from this address; wait and try again")))]
pub async fn register(
    State(state): State<AppState>,
    visitor: Visitor,
    ApiJson(form): ApiJson<Registration>,
) -> AppResult<Created<UserOut>> {
    let user = accounts::register(&state.services, &form, visitor.client_ip).await?;
    Ok((StatusCode::CREATED, Json(UserOut::from(&user))))
}

/// Sign in with the username or the email: answers with the session cookie.
#[utoipa::path(post, path = "/api/v1/sessions", request_body = SignIn, tag = "accounts",
    responses((status = 200, body = UserOut), (status = 401, body = ErrorOut, description = "Wrong username, email or password"),
               (status = 429, body = ErrorOut, description = "Too many failed attempts; wait and try again")))]
pub async fn sign_in(
    State(state): State<AppState>,
    visitor: Visitor,
    jar: CookieJar,
    ApiJson(form): ApiJson<SignIn>,
) -> AppResult<(CookieJar, Json<UserOut>)> {
    let user = accounts::authenticate(
        &state.services,
        &form.username,
        &form.password,
        visitor.client_ip,
    )
    .await?;
    let jar = auth::sign_in(&state, &visitor, &user, jar).await?;
    Ok((jar, Json(UserOut::from(&user))))
}

/// Sign out.
#[utoipa::path(delete, path = "/api/v1/sessions", tag = "accounts", responses((status = 204)))]
pub async fn sign_out(
    State(state): State<AppState>,
    visitor: Visitor,
    jar: CookieJar,
) -> AppResult<(CookieJar, StatusCode)> {
    let jar = auth::sign_out(&state, &visitor, jar).await?;
    Ok((jar, StatusCode::NO_CONTENT))
}

/// The signed-in user's profile.
#[utoipa::path(get, path = "/api/v1/me", tag = "profile", security(("session" = [])),
    responses((status = 200, body = UserOut), (status = 401, body = ErrorOut)))]
pub async fn me(ApiUser { user, .. }: ApiUser) -> Json<UserOut> {
    Json(UserOut::from(&user))
}

/// Change first name, email or address (fields left out keep their value).
#[utoipa::path(patch, path = "/api/v1/me", request_body = ProfileEdit, tag = "profile", security(("session" = [])),
    responses((status = 200, body = UserOut), (status = 401, body = ErrorOut), (status = 422, body = ErrorOut)))]
pub async fn update_me(
    State(state): State<AppState>,
    ApiUser { user, .. }: ApiUser,
    ApiJson(edit): ApiJson<ProfileEdit>,
) -> AppResult<Json<UserOut>> {
    let user = accounts::update_profile(&state.services, &user, &edit).await?;
    Ok(Json(UserOut::from(&user)))
}

/// Upload a profile picture: a JPEG, PNG or WebP image as the request body, up to
/// PICTURE_MAX_UPLOAD_MB (5 MB by default).
#[utoipa::path(put, path = "/api/v1/me/photo", tag = "profile", security(("session" = [])),
    request_body(content(
        (PictureFile = "image/jpeg"), (PictureFile = "image/png"), (PictureFile = "image/webp"))),
    responses((status = 200, body = UserOut), (status = 413, body = ErrorOut), (status = 415, body = ErrorOut, description = "Not a JPEG, PNG or WebP picture, by its type or its bytes"),
               (status = 422, body = ErrorOut, description = "A picture that cannot be read, or has too many pixels")))]
pub async fn upload_photo(
    State(state): State<AppState>,
    ApiUser { user, .. }: ApiUser,
    headers: HeaderMap,
    body: Result<bytes::Bytes, axum::extract::rejection::BytesRejection>,
) -> AppResult<Json<UserOut>> {
    // Too large means larger than the picture limit: say which.
    let body = body.map_err(|rejection| match rejection.status() {
        StatusCode::PAYLOAD_TOO_LARGE => state.services.pictures().too_large(),
        _ => AppError::BadRequest("The picture could not be read. Send it again.".into()),
    })?;
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if !matches!(content_type, "image/jpeg" | "image/png" | "image/webp") {
        return Err(AppError::UnsupportedMediaType(
            "Send the picture as image/jpeg, image/png or image/webp.".into(),
        ));
    }
    let user = accounts::set_photo(&state.services, &user, body).await?;
    Ok(Json(UserOut::from(&user)))
}

/// The catalog, with variants and stock: the shop's search, sort and price filter.
#[utoipa::path(get, path = "/api/v1/products", params(ProductSearch), tag = "shop",
    responses((status = 200, body = Vec<ProductOut>),
              (status = 400, body = ErrorOut, description = "A query parameter is not of its type"),
              (status = 422, body = ErrorOut, description = "A price bound is below 0 or above the highest price")))]
pub async fn products(
    State(state): State<AppState>,
    ApiQuery(search): ApiQuery<ProductSearch>,
) -> AppResult<Json<Vec<ProductOut>>> {
    let filter = CatalogFilter {
        sort: search.sort.map(Into::into).unwrap_or_default(),
        ..CatalogFilter::new(search.category.as_deref(), search.q.as_deref())
    }
    .priced_in_cents(search.min_price_cents, search.max_price_cents)?;
    let catalog = catalog::snapshot(&state.services).await?;
    Ok(Json(
        catalog
            .filter(&filter)
            .into_iter()
            .map(ProductOut::from)
            .collect(),
    ))
}

/// One product.
#[utoipa::path(get, path = "/api/v1/products/{id}", params(("id" = i64, Path)), tag = "shop",
    responses((status = 200, body = ProductOut), (status = 404, body = ErrorOut)))]
pub async fn product(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> AppResult<Json<ProductOut>> {
    let product = catalog::view_product(&state.services, ProductRef::Id(id), None).await?;
    Ok(Json(ProductOut::from(&product)))
}

/// The visitor's cart (a guest's or the signed-in user's).
#[utoipa::path(get, path = "/api/v1/cart", tag = "cart", security((), ("session" = [])), responses((status = 200, body = CartOut)))]
pub async fn cart(State(state): State<AppState>, visitor: Visitor) -> AppResult<Json<CartOut>> {
    let lines = shop::cart(&state.services, visitor.cart_owner().as_ref()).await?;
    Ok(Json(CartOut::from(lines.as_slice())))
}

/// Add a variant to the cart; a guest gets a session cookie for their cart.
#[utoipa::path(post, path = "/api/v1/cart/items", request_body = AddItem, tag = "cart", security((), ("session" = [])),
    responses((status = 201, body = CartOut), (status = 404, body = ErrorOut), (status = 409, body = ErrorOut, description = "Not enough stock, or the cart would hold more than 99 of the item"),
               (status = 422, body = ErrorOut)))]
pub async fn add_cart_item(
    State(state): State<AppState>,
    visitor: Visitor,
    jar: CookieJar,
    ApiJson(item): ApiJson<AddItem>,
) -> AppResult<(StatusCode, CookieJar, Json<CartOut>)> {
    let added = shop::add_to_cart(
        &state.services,
        visitor.cart_owner(),
        item.variant_id,
        item.quantity,
    )
    .await?;
    let jar = auth::with_guest_session(&state, jar, added.new_guest_token, visitor.secure);
    Ok((
        StatusCode::CREATED,
        jar,
        Json(CartOut::from(added.cart.as_slice())),
    ))
}

fn owner_of(visitor: &Visitor) -> AppResult<CartOwner> {
    visitor
        .cart_owner()
        .ok_or_else(|| AppError::not_found("That item in your cart"))
}

/// Change the quantity of a cart line.
#[utoipa::path(patch, path = "/api/v1/cart/items/{variant_id}", params(("variant_id" = i64, Path)), request_body = SetQuantity, tag = "cart", security((), ("session" = [])),
    responses((status = 200, body = CartOut), (status = 404, body = ErrorOut), (status = 409, body = ErrorOut), (status = 422, body = ErrorOut)))]
pub async fn update_cart_item(
    State(state): State<AppState>,
    visitor: Visitor,
    ApiPath(variant_id): ApiPath<i64>,
    ApiJson(body): ApiJson<SetQuantity>,
) -> AppResult<Json<CartOut>> {
    let owner = owner_of(&visitor)?;
    shop::set_cart_quantity(&state.services, &owner, variant_id, body.quantity).await?;
    let lines = shop::cart(&state.services, Some(&owner)).await?;
    Ok(Json(CartOut::from(lines.as_slice())))
}

/// Remove a cart line.
#[utoipa::path(delete, path = "/api/v1/cart/items/{variant_id}", params(("variant_id" = i64, Path)), tag = "cart", security((), ("session" = [])),
    responses((status = 200, body = CartOut), (status = 404, body = ErrorOut)))]
pub async fn remove_cart_item(
    State(state): State<AppState>,
    visitor: Visitor,
    ApiPath(variant_id): ApiPath<i64>,
) -> AppResult<Json<CartOut>> {
    let owner = owner_of(&visitor)?;
    shop::remove_from_cart(&state.services, &owner, variant_id).await?;
    let lines = shop::cart(&state.services, Some(&owner)).await?;
    Ok(Json(CartOut::from(lines.as_slice())))
}

/// Place the cart as an order. The Idempotency-Key header is required: a retry with the
/// same key returns the first order and creates none.
#[utoipa::path(post, path = "/api/v1/orders", request_body(content = Option<PlaceOrder>), tag = "orders", security(("session" = [])),
    params(("Idempotency-Key" = String, Header, description = "1 to 100 visible ASCII characters, unique per checkout",
        min_length = 1, max_length = 100, pattern = "^[!-~]+$")),
    responses((status = 201, body = OrderOut), (status = 400, body = ErrorOut), (status = 401, body = ErrorOut),
               (status = 409, body = ErrorOut, description = "Empty cart or not enough stock"), (status = 422, body = ErrorOut)))]
pub async fn place_order(
    State(state): State<AppState>,
    ApiUser { user, .. }: ApiUser,
    headers: HeaderMap,
    ApiBytes(body): ApiBytes,
) -> AppResult<Response> {
    let key = headers
        .get("idempotency-key")
        .ok_or_else(|| {
            AppError::BadRequest("Send an Idempotency-Key header, unique for this checkout.".into())
        })?
        .to_str()
        .map_err(|_| {
            AppError::BadRequest("The Idempotency-Key must be visible ASCII characters.".into())
        })?
        .to_owned();
    // The body is optional: none, `null` and `{}` all mean "ship to my address".
    let request: Option<PlaceOrder> = if body.iter().all(u8::is_ascii_whitespace) {
        None
    } else {
        let is_json = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json"));
        if !is_json {
            return Err(AppError::UnsupportedMediaType(
                "Send JSON with Content-Type: application/json.".into(),
            ));
        }
        serde_json::from_slice(&body).map_err(|e| {
            AppError::BadRequest(format!("The request body is not the expected JSON: {e}"))
        })?
    };
    let request = request.unwrap_or_default();
    let placed = checkout::place_order(
        &state.services,
        checkout::Shopper::Account(&user),
        &request.choice(),
        Some(&key),
    )
    .await?;
    let mut out = OrderOut::from(&placed.order);
    out.payment = placed.payment;
    let mut response = (StatusCode::CREATED, Json(out)).into_response();
    if !placed.new {
        response.headers_mut().insert(
            "idempotent-replayed",
            axum::http::HeaderValue::from_static("true"),
        );
    }
    Ok(response)
}

/// The delivery options checkout offers, in order.
#[utoipa::path(get, path = "/api/v1/delivery-options", tag = "orders",
    responses((status = 200, body = Vec<DeliveryOptionOut>)))]
pub async fn delivery_options(
    State(state): State<AppState>,
) -> AppResult<Json<Vec<DeliveryOptionOut>>> {
    let options = checkout::delivery_options(&state.services).await?;
    Ok(Json(options.iter().map(DeliveryOptionOut::from).collect()))
}

/// What the visitor's cart would cost with a delivery option and a discount code.
#[utoipa::path(post, path = "/api/v1/checkout/quote", request_body = QuoteRequest, tag = "orders", security((), ("session" = [])),
    responses((status = 200, body = Totals), (status = 422, body = ErrorOut, description = "An unknown delivery option, or a discount code that does not apply, with why")))]
pub async fn quote(
    State(state): State<AppState>,
    visitor: Visitor,
    ApiJson(request): ApiJson<QuoteRequest>,
) -> AppResult<Json<Totals>> {
    let owner = visitor.cart_owner();
    Ok(Json(
        checkout::quote(&state.services, owner.as_ref(), &request.choice()).await?,
    ))
}

/// The signed-in user's orders, newest first.
#[utoipa::path(get, path = "/api/v1/orders", tag = "orders", security(("session" = [])),
    responses((status = 200, body = Vec<OrderOut>), (status = 401, body = ErrorOut)))]
pub async fn orders(
    State(state): State<AppState>,
    ApiUser { user, .. }: ApiUser,
) -> AppResult<Json<Vec<OrderOut>>> {
    let orders = shop::orders_of(&state.services, &user).await?;
    Ok(Json(orders.iter().map(OrderOut::from).collect()))
}

/// One of the user's orders; someone else's is 404.
#[utoipa::path(get, path = "/api/v1/orders/{code}", params(("code" = String, Path)), tag = "orders", security(("session" = [])),
    responses((status = 200, body = OrderOut), (status = 401, body = ErrorOut), (status = 404, body = ErrorOut)))]
pub async fn order(
    State(state): State<AppState>,
    ApiUser { user, .. }: ApiUser,
    ApiPath(code): ApiPath<String>,
) -> AppResult<Json<OrderOut>> {
    let order = shop::own_order(&state.services, &user, &code).await?;
    Ok(Json(OrderOut::from(&order)))
}

/// Cancel an order that has not shipped; its stock returns.
#[utoipa::path(post, path = "/api/v1/orders/{code}/cancel", params(("code" = String, Path)), tag = "orders", security(("session" = [])),
    responses((status = 200, body = OrderOut), (status = 401, body = ErrorOut), (status = 404, body = ErrorOut),
               (status = 409, body = ErrorOut, description = "Already shipped or cancelled")))]
pub async fn cancel_order(
    State(state): State<AppState>,
    ApiUser { user, .. }: ApiUser,
    ApiPath(code): ApiPath<String>,
) -> AppResult<Json<OrderOut>> {
    let order = shop::cancel_own_order(&state.services, &user, &code).await?;
    Ok(Json(OrderOut::from(&order)))
}

/// The most places one answer lists.
const MOST_PLACES: usize = 50;

/// Coffee places: sorted by distance from a point when `lat` and `lon` are given, else by
/// city and name (with `distance_km` null).
#[utoipa::path(get, path = "/api/v1/places", tag = "radar",
    params(("point" = Option<Point>, Query, style = Form, explode,
        description = "Where to measure from: `lat` and `lon` together (`?lat=40.42&lon=-3.70`), or neither")),
    responses((status = 200, body = Vec<PlaceOut>), (status = 400, body = ErrorOut, description = "A coordinate is not a number"),
               (status = 422, body = ErrorOut, description = "A coordinate is out of range, or only one was given")))]
pub async fn places(
    State(state): State<AppState>,
    ApiQuery(near): ApiQuery<Near>,
) -> AppResult<Json<Vec<PlaceOut>>> {
    let places = match (near.lat, near.lon) {
        (Some(lat), Some(lon)) => {
            let from = Coordinates::parse(lat, lon).map_err(|m| AppError::invalid("lat", m))?;
            let nearby = radar::nearby(&state.services, from, MOST_PLACES, None).await?;
            nearby.iter().map(PlaceOut::from).collect()
        }
        (None, None) => {
            let all = radar::all(&state.services, MOST_PLACES).await?;
            all.iter().map(PlaceOut::from).collect()
        }
        (Some(_), None) => return Err(AppError::invalid("lon", "Give lon with lat, or neither.")),
        (None, Some(_)) => return Err(AppError::invalid("lat", "Give lat with lon, or neither.")),
    };
    Ok(Json(places))
}

/// Sales and interaction figures for a period (staff only).
#[utoipa::path(get, path = "/api/v1/admin/insights", params(PeriodQuery), tag = "staff", security(("session" = [])),
    responses((status = 200, description = "The figures of the period"), (status = 401, body = ErrorOut),
               (status = 403, body = ErrorOut), (status = 422, body = ErrorOut)))]
pub async fn insights(
    State(state): State<AppState>,
    ApiStaff(_staff): ApiStaff,
    ApiQuery(query): ApiQuery<PeriodQuery>,
) -> AppResult<Json<crate::services::insights::Insights>> {
    let period = Period::parse(
        query.from.as_deref(),
        query.to.as_deref(),
        insights::today(),
    )?;
    Ok(Json(insights::report(&state.services, period).await?))
}

/// Every delivery option, inactive ones too (staff only).
#[utoipa::path(get, path = "/api/v1/admin/delivery-options", tag = "staff", security(("session" = [])),
    responses((status = 200, body = Vec<StaffDeliveryOptionOut>), (status = 401, body = ErrorOut), (status = 403, body = ErrorOut)))]
pub async fn staff_delivery_options(
    State(state): State<AppState>,
    ApiStaff(_staff): ApiStaff,
) -> AppResult<Json<Vec<StaffDeliveryOptionOut>>> {
    let options = staff::delivery_options(&state.services).await?;
    Ok(Json(
        options.iter().map(StaffDeliveryOptionOut::from).collect(),
    ))
}

/// Add a delivery option (staff only).
#[utoipa::path(post, path = "/api/v1/admin/delivery-options", request_body = DeliveryFields, tag = "staff", security(("session" = [])),
    responses((status = 201, body = StaffDeliveryOptionOut), (status = 401, body = ErrorOut), (status = 403, body = ErrorOut),
               (status = 409, body = ErrorOut, description = "An option has that name"), (status = 422, body = ErrorOut)))]
pub async fn create_delivery_option(
    State(state): State<AppState>,
    ApiStaff(_staff): ApiStaff,
    ApiJson(fields): ApiJson<DeliveryFields>,
) -> AppResult<Created<StaffDeliveryOptionOut>> {
    let option = staff::save_delivery_option(&state.services, None, &fields).await?;
    Ok((
        StatusCode::CREATED,
        Json(StaffDeliveryOptionOut::from(&option)),
    ))
}

/// Change a delivery option; orders placed with it keep what it was then (staff only).
#[utoipa::path(put, path = "/api/v1/admin/delivery-options/{id}", params(("id" = i64, Path)), request_body = DeliveryFields, tag = "staff", security(("session" = [])),
    responses((status = 200, body = StaffDeliveryOptionOut), (status = 401, body = ErrorOut), (status = 403, body = ErrorOut),
               (status = 404, body = ErrorOut), (status = 409, body = ErrorOut), (status = 422, body = ErrorOut)))]
pub async fn update_delivery_option(
    State(state): State<AppState>,
    ApiStaff(_staff): ApiStaff,
    ApiPath(id): ApiPath<i64>,
    ApiJson(fields): ApiJson<DeliveryFields>,
) -> AppResult<Json<StaffDeliveryOptionOut>> {
    let option = staff::save_delivery_option(&state.services, Some(id), &fields).await?;
    Ok(Json(StaffDeliveryOptionOut::from(&option)))
}

/// Every discount code, newest first (staff only).
#[utoipa::path(get, path = "/api/v1/admin/discount-codes", tag = "staff", security(("session" = [])),
    responses((status = 200, body = Vec<DiscountCodeOut>), (status = 401, body = ErrorOut), (status = 403, body = ErrorOut)))]
pub async fn staff_discount_codes(
    State(state): State<AppState>,
    ApiStaff(_staff): ApiStaff,
) -> AppResult<Json<Vec<DiscountCodeOut>>> {
    let codes = staff::discount_codes(&state.services).await?;
    Ok(Json(codes.iter().map(DiscountCodeOut::from).collect()))
}

/// Add a discount code (staff only).
#[utoipa::path(post, path = "/api/v1/admin/discount-codes", request_body = DiscountFields, tag = "staff", security(("session" = [])),
    responses((status = 201, body = DiscountCodeOut), (status = 401, body = ErrorOut), (status = 403, body = ErrorOut),
               (status = 409, body = ErrorOut, description = "That code exists"), (status = 422, body = ErrorOut)))]
pub async fn create_discount_code(
    State(state): State<AppState>,
    ApiStaff(_staff): ApiStaff,
    ApiJson(fields): ApiJson<DiscountFields>,
) -> AppResult<Created<DiscountCodeOut>> {
    let code = staff::save_discount_code(&state.services, None, &fields).await?;
    Ok((StatusCode::CREATED, Json(DiscountCodeOut::from(&code))))
}

/// Change a discount code's terms; its uses so far stay (staff only).
#[utoipa::path(put, path = "/api/v1/admin/discount-codes/{id}", params(("id" = i64, Path)), request_body = DiscountFields, tag = "staff", security(("session" = [])),
    responses((status = 200, body = DiscountCodeOut), (status = 401, body = ErrorOut), (status = 403, body = ErrorOut),
               (status = 404, body = ErrorOut), (status = 409, body = ErrorOut), (status = 422, body = ErrorOut)))]
pub async fn update_discount_code(
    State(state): State<AppState>,
    ApiStaff(_staff): ApiStaff,
    ApiPath(id): ApiPath<i64>,
    ApiJson(fields): ApiJson<DiscountFields>,
) -> AppResult<Json<DiscountCodeOut>> {
    let code = staff::save_discount_code(&state.services, Some(id), &fields).await?;
    Ok(Json(DiscountCodeOut::from(&code)))
}

/// Ask the payment provider about a card order now, and answer with the order as it is
/// then: paid, or still awaiting payment with the card's problem in `payment_error` and a
/// new `payment` to try another card with.
#[utoipa::path(post, path = "/api/v1/orders/{code}/payment/check", params(("code" = String, Path)), tag = "orders", security(("session" = [])),
    responses((status = 200, body = OrderOut), (status = 401, body = ErrorOut), (status = 404, body = ErrorOut),
               (status = 503, body = ErrorOut, description = "The payment provider did not answer; try again")))]
pub async fn check_payment(
    State(state): State<AppState>,
    ApiUser { user, .. }: ApiUser,
    ApiPath(code): ApiPath<String>,
) -> AppResult<Json<OrderOut>> {
    let order = shop::own_order(&state.services, &user, &code).await?;
    let seen = payments::check(&state.services, &order).await?;
    let order = shop::own_order(&state.services, &user, &code).await?;
    let mut out = OrderOut::from(&order);
    if order.order.status == OrderStatus::AwaitingPayment {
        out.payment = Some(payments::start_from(&state.services, &order.order, seen).await?);
    }
    Ok(Json(out))
}

/// Events from Stripe, signed with the webhook secret (not part of API v1: the provider
/// calls it). A replayed event changes nothing.
pub async fn stripe_webhook(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiBytes(body): ApiBytes,
) -> AppResult<StatusCode> {
    let signature = headers
        .get("stripe-signature")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| AppError::BadRequest("A Stripe-Signature header is required.".into()))?;
    payments::webhook(&state.services, signature, &body).await?;
    Ok(StatusCode::OK)
}
