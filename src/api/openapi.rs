//! The OpenAPI 3.1 document served at /api/openapi.json, which clients and the contract
//! test (schemathesis, in test.sh) hold the API to. Each handler's annotation lists the
//! answers particular to it; two modifiers add what no single handler states:
//! - [`SharedAnswers`]: the answers that come from the extractors and the middleware (a body
//!   that is not JSON or too large, a cross-site write, no session, an outage), added to
//!   every operation they can happen on;
//! - [`FIELD_LIMITS`]: the limits the domain types enforce on request fields, so that a
//!   request the document calls valid is one the API accepts (the account forms are
//!   defined by the account service, which knows nothing of OpenAPI).

use axum::Json;
use axum::http::StatusCode;
use utoipa::openapi::path::Operation;
use utoipa::openapi::schema::{Object, Schema, SchemaFormat, Type};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{Content, HeaderBuilder, Ref, RefOr, Response, ResponseBuilder};
use utoipa::{Modify, OpenApi};

use super::handlers;
use super::model::*;
use crate::domain::address::AddressFields;
use crate::domain::checkout::{DeliveryFields, DiscountFields, DiscountKind, PaymentMethod};
use crate::domain::pricing::Totals;
use crate::services::accounts::{ProfileEdit, Registration};
use crate::services::payments::PaymentStart;

#[derive(OpenApi)]
#[openapi(
    info(title = "Coffee Radar API", version = "1", description = "The Coffee Radar shop: accounts, catalog, cart, orders and the coffee Radar. Money is in integer cents. Every error is JSON: `{\"error\": \"...\"}`, with `fields` for invalid fields."),
    paths(
        handlers::register, handlers::sign_in, handlers::sign_out, handlers::me, handlers::update_me,
        handlers::upload_photo, handlers::products, handlers::product, handlers::cart, handlers::add_cart_item,
        handlers::update_cart_item, handlers::remove_cart_item, handlers::place_order, handlers::orders,
        handlers::order, handlers::cancel_order, handlers::places, handlers::insights,
        handlers::delivery_options, handlers::quote, handlers::staff_delivery_options,
        handlers::create_delivery_option, handlers::update_delivery_option,
        handlers::staff_discount_codes, handlers::create_discount_code, handlers::update_discount_code,
        handlers::check_payment,
    ),
    components(schemas(Registration, ProfileEdit, UserOut, ProductOut, VariantOut, CartOut, CartLineOut, OrderOut,
        OrderLineOut, PlaceOut, Point, PictureFile, ErrorOut, SignIn, AddItem, SetQuantity, PlaceOrder,
        QuoteRequest, Totals, DeliveryOptionOut, StaffDeliveryOptionOut, DiscountCodeOut, DeliveryFields,
        DiscountFields, AddressFields, PaymentMethod, DiscountKind, PaymentStart, ProductSort)),
    modifiers(&SessionCookie, &SharedAnswers, &FieldLimits),
)]
struct ApiDoc;

pub async fn document() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}

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

/// The answers an operation can get from outside its handler.
struct SharedAnswers;

impl Modify for SharedAnswers {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for item in openapi.paths.paths.values_mut() {
            let reads = [item.get.as_mut(), item.head.as_mut()];
            let writes = [
                item.post.as_mut(),
                item.put.as_mut(),
                item.patch.as_mut(),
                item.delete.as_mut(),
            ];
            for (operation, is_write) in reads
                .into_iter()
                .map(|o| (o, false))
                .chain(writes.into_iter().map(|o| (o, true)))
            {
                if let Some(operation) = operation {
                    add_shared_answers(operation, is_write);
                }
            }
        }
    }
}

fn add_shared_answers(operation: &mut Operation, is_write: bool) {
    let mut statuses = vec![StatusCode::SERVICE_UNAVAILABLE];
    if operation.request_body.is_some() {
        statuses.extend([
            StatusCode::BAD_REQUEST,
            StatusCode::PAYLOAD_TOO_LARGE,
            StatusCode::UNPROCESSABLE_ENTITY,
        ]);
    }
    if is_write {
        statuses.extend([StatusCode::FORBIDDEN, StatusCode::UNSUPPORTED_MEDIA_TYPE]);
    }
    // A session is required unless one of the requirements is the empty one (the cart
    // works for guests too).
    let needs_session = operation.security.as_ref().is_some_and(|requirements| {
        !requirements.is_empty() && !requirements.contains(&SecurityRequirement::default())
    });
    if needs_session {
        statuses.push(StatusCode::UNAUTHORIZED);
    }
    let responses = &mut operation.responses.responses;
    for status in statuses {
        responses
            .entry(status.as_str().to_owned())
            .or_insert_with(|| error_response(status, shared_reason(status)).into());
    }
    // Every answer has a description, as OpenAPI requires.
    for (status, response) in responses.iter_mut() {
        if let RefOr::T(response) = response
            && response.description.is_empty()
        {
            response.description = status
                .parse::<StatusCode>()
                .ok()
                .and_then(|s| s.canonical_reason())
                .unwrap_or("Answer")
                .to_owned();
        }
    }
}

/// Why the middleware or an extractor answers with `status`, whatever the operation.
fn shared_reason(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "The body is not valid JSON",
        401 => "Not signed in",
        403 => "Refused: the request came from another site (Sec-Fetch-Site or Origin)",
        413 => "The body is over the size limit",
        415 => "Wrong Content-Type (the API refuses the form types a cross-site form can send)",
        422 => "The JSON lacks fields or has the wrong types, or a field is invalid",
        503 => {
            "The database or picture storage is not answering, or the request timed out; Retry-After says when to try again"
        }
        _ => "",
    }
}

fn error_response(status: StatusCode, description: &str) -> Response {
    let mut response = ResponseBuilder::new().description(description).content(
        "application/json",
        Content::new(Some(Ref::from_schema_name("ErrorOut"))),
    );
    if status == StatusCode::SERVICE_UNAVAILABLE {
        response = response.header(
            "Retry-After",
            HeaderBuilder::new()
                .schema(Some(Object::with_type(Type::Integer)))
                .description(Some("Seconds to wait before trying again"))
                .build(),
        );
    }
    response.build()
}

/// What a request field must be for the API to accept it.
#[derive(Debug, Clone, Copy)]
struct Limit {
    min_length: Option<usize>,
    max_length: Option<usize>,
    pattern: Option<&'static str>,
    email: bool,
    minimum: Option<i64>,
    maximum: Option<i64>,
}

impl Limit {
    const NONE: Self = Self {
        min_length: None,
        max_length: None,
        pattern: None,
        email: false,
        minimum: None,
        maximum: None,
    };

    /// Text of at most `max_length` characters.
    const fn text(max_length: usize) -> Self {
        Self {
            max_length: Some(max_length),
            ..Self::NONE
        }
    }

    /// A whole number from `minimum` to `maximum`.
    const fn range(minimum: i64, maximum: i64) -> Self {
        Self {
            minimum: Some(minimum),
            maximum: Some(maximum),
            ..Self::NONE
        }
    }

    const fn at_least(self, min_length: usize) -> Self {
        Self {
            min_length: Some(min_length),
            ..self
        }
    }

    const fn pattern(self, pattern: &'static str) -> Self {
        Self {
            pattern: Some(pattern),
            ..self
        }
    }

    const fn email(self) -> Self {
        Self {
            email: true,
            ..self
        }
    }
}

/// A username (see `Username::parse`): surrounding spaces are trimmed, case is ignored.
const USERNAME: &str = "^[A-Za-z0-9._-]{3,32}$";
/// No control characters but line breaks (see the domain's `reject_control_chars`).
const NO_CONTROL_CHARS: &str = r"^[^\x00-\x09\x0b\x0c\x0e-\x1f\x7f-\x9f]*$";
/// The same, with at least one character that is not a space (a required name).
const SOME_TEXT: &str = r"^[^\x00-\x09\x0b\x0c\x0e-\x1f\x7f-\x9f]*[^\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000][^\x00-\x09\x0b\x0c\x0e-\x1f\x7f-\x9f]*$";

const EMAIL: Limit = Limit::text(254).email();
const FIRST_NAME: Limit = Limit::text(60).at_least(1).pattern(SOME_TEXT);
const ADDRESS: Limit = Limit::text(300).pattern(NO_CONTROL_CHARS);
const QUANTITY: Limit = Limit::range(1, crate::domain::Quantity::MAX);

/// The limits of each request field, by schema and property. The domain types are the
/// rule; a unit test below holds these to them.
const FIELD_LIMITS: &[(&str, &str, Limit)] = &[
    (
        "Registration",
        "username",
        Limit::text(32).at_least(3).pattern(USERNAME),
    ),
    ("Registration", "email", EMAIL),
    (
        "Registration",
        "password",
        Limit::text(crate::domain::Password::MAX_CHARS)
            .at_least(crate::domain::Password::MIN_CHARS),
    ),
    ("Registration", "first_name", FIRST_NAME),
    ("Registration", "address", ADDRESS),
    ("ProfileEdit", "first_name", FIRST_NAME),
    ("ProfileEdit", "email", EMAIL),
    ("ProfileEdit", "address", ADDRESS),
    // Sign-in takes the username or the email in `username`.
    ("SignIn", "username", Limit::text(254)),
    (
        "SignIn",
        "password",
        Limit::text(crate::domain::Password::MAX_CHARS),
    ),
    ("AddItem", "quantity", QUANTITY),
    ("SetQuantity", "quantity", QUANTITY),
    ("PlaceOrder", "shipping_address", ADDRESS),
];

struct FieldLimits;

impl Modify for FieldLimits {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let Some(components) = openapi.components.as_mut() else {
            return;
        };
        for (schema, field, limit) in FIELD_LIMITS {
            let property = match components.schemas.get_mut(*schema) {
                Some(RefOr::T(Schema::Object(object))) => object.properties.get_mut(*field),
                _ => None,
            };
            match property {
                Some(RefOr::T(Schema::Object(property))) => apply(property, limit),
                _ => tracing::warn!(schema, field, "no such property to limit"),
            }
        }
    }
}

fn apply(property: &mut Object, limit: &Limit) {
    property.min_length = limit.min_length;
    property.max_length = limit.max_length;
    property.pattern = limit.pattern.map(str::to_owned);
    property.minimum = limit.minimum.map(|n| utoipa::Number::Int(n as isize));
    property.maximum = limit.maximum.map(|n| utoipa::Number::Int(n as isize));
    if limit.email {
        property.format = Some(SchemaFormat::Custom("email".into()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Address, Email, FirstName, Password, Quantity, Username};

    fn limit(schema: &str, field: &str) -> Limit {
        FIELD_LIMITS
            .iter()
            .find(|(s, f, _)| *s == schema && *f == field)
            .map(|(_, _, limit)| *limit)
            .unwrap_or_else(|| panic!("{schema}.{field} has limits"))
    }

    /// The longest and shortest values the document allows are accepted, and one past
    /// each end is refused, by the domain type itself.
    fn holds_to(limit: Limit, parse: impl Fn(&str) -> bool) {
        let fill = |n: usize| "a".repeat(n);
        if let Some(max) = limit.max_length {
            assert!(parse(&fill(max)), "{max} characters are accepted");
            assert!(!parse(&fill(max + 1)), "{} characters are refused", max + 1);
        }
        if let Some(min) = limit.min_length {
            assert!(parse(&fill(min.max(1))), "{min} characters are accepted");
            if min > 1 {
                assert!(!parse(&fill(min - 1)), "{} characters are refused", min - 1);
            }
        }
    }

    #[test]
    fn documented_lengths_are_the_domain_rules() {
        holds_to(limit("Registration", "username"), |s| {
            Username::parse(s).is_ok()
        });
        // The length rule only: a run of one letter is refused as guessable whatever its
        // length.
        holds_to(limit("Registration", "password"), |s| {
            Password::parse(s, &[]).map_or_else(|e| !e.contains("characters"), |_| true)
        });
        holds_to(limit("Registration", "first_name"), |s| {
            FirstName::parse(s).is_ok()
        });
        holds_to(limit("Registration", "address"), |s| {
            Address::parse(s).is_ok()
        });
        let email = limit("Registration", "email").max_length.unwrap();
        let longest = format!("{}@{}.com", "a".repeat(64), "b".repeat(email - 69));
        assert_eq!(longest.len(), email);
        assert!(Email::parse(&longest).is_ok());
        assert!(Email::parse(&format!("{longest}m")).is_err());
    }

    #[test]
    fn documented_quantities_are_the_domain_rule() {
        let quantity = limit("AddItem", "quantity");
        let (min, max) = (quantity.minimum.unwrap(), quantity.maximum.unwrap());
        assert!(Quantity::parse(min).is_ok() && Quantity::parse(max).is_ok());
        assert!(Quantity::parse(min - 1).is_err() && Quantity::parse(max + 1).is_err());
    }

    #[test]
    fn every_limit_names_a_real_property() {
        let doc = serde_json::to_value(ApiDoc::openapi()).unwrap();
        for (schema, field, limit) in FIELD_LIMITS {
            let property = &doc["components"]["schemas"][schema]["properties"][field];
            assert!(property.is_object(), "{schema}.{field} exists");
            if let Some(max) = limit.max_length {
                assert_eq!(property["maxLength"], max, "{schema}.{field}");
            }
        }
    }

    #[test]
    fn every_answer_has_a_description() {
        let doc = serde_json::to_value(ApiDoc::openapi()).unwrap();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, operation) in item.as_object().unwrap() {
                for (status, response) in operation["responses"].as_object().unwrap() {
                    assert!(
                        response["description"]
                            .as_str()
                            .is_some_and(|d| !d.is_empty()),
                        "{method} {path} {status}"
                    );
                }
            }
        }
    }
}
