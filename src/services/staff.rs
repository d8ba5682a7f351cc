//! What the shop's staff do: manage products, variants and their pictures, move orders
//! along, look up users, set up delivery options and discount codes. Every write that
//! changes what shoppers see drops this instance's catalog snapshot; a refused one leaves
//! it alone, so nobody can make every request reload the catalog.

use super::notices::OrderNews;
use super::{Services, media};
use crate::db::catalog::{Product, ProductInput, VariantInput};
use crate::db::checkout::{DeliveryOption, DiscountCode};
use crate::db::orders::Order;
use crate::db::users::UserRow;
use crate::domain::checkout::{DeliveryDetails, DeliveryFields, DiscountDetails, DiscountFields};
use crate::domain::{OrderCode, OrderStatus};
use crate::error::{AppError, AppResult};

/// The most rows a staff list shows.
const MOST_ROWS: i64 = 200;
/// Longer user searches are cut to this many characters.
pub const MAX_USER_SEARCH_CHARS: usize = 100;

/// Every product, hidden ones too, in shop order.
pub async fn products(services: &Services) -> AppResult<Vec<Product>> {
    services.db.list_products(true).await
}

/// A product, hidden or not.
pub async fn product(services: &Services, id: i64) -> AppResult<Product> {
    services
        .db
        .product_by_id(id, true)
        .await?
        .ok_or_else(|| AppError::not_found("That product"))
}

/// Creates a product (`id` None) or changes one; returns its id.
pub async fn save_product(
    services: &Services,
    id: Option<i64>,
    input: &ProductInput<'_>,
) -> AppResult<i64> {
    let id = match id {
        Some(id) => services.db.update_product(id, input).await.map(|()| id)?,
        None => services.db.create_product(input).await?,
    };
    services.catalog.invalidate();
    Ok(id)
}

/// Checks, shrinks and stores a product's picture.
pub async fn set_product_picture(
    services: &Services,
    id: i64,
    upload: bytes::Bytes,
) -> AppResult<()> {
    product(services, id).await?;
    let key = media::store_picture(services, "products", upload).await?;
    services.db.set_product_image(id, &key).await?;
    services.catalog.invalidate();
    Ok(())
}

/// Checks, shrinks and stores the picture of one colour of a product, replacing the one
/// it had. The colour must be one the product comes in.
pub async fn set_color_picture(
    services: &Services,
    id: i64,
    color: &str,
    upload: bytes::Bytes,
) -> AppResult<()> {
    let product = product(services, id).await?;
    let color = known_color(&product, color)?;
    let key = media::store_picture(services, "products", upload).await?;
    services.db.set_color_picture(id, color, &key).await?;
    services.catalog.invalidate();
    Ok(())
}

/// Takes a colour's own picture away: the product's picture shows for it again.
pub async fn remove_color_picture(services: &Services, id: i64, color: &str) -> AppResult<()> {
    if !services.db.remove_color_picture(id, color.trim()).await? {
        return Err(AppError::not_found("That colour's picture"));
    }
    services.catalog.invalidate();
    Ok(())
}

/// `color` as one of the product's variants spells it, or a field error.
fn known_color<'a>(product: &'a Product, color: &str) -> AppResult<&'a str> {
    product
        .variants
        .iter()
        .map(|v| v.color.as_str())
        .find(|known| *known == color.trim())
        .ok_or_else(|| {
            AppError::invalid(
                "color",
                format!(
                    "The {} does not come in {}.",
                    product.product.name,
                    color.trim()
                ),
            )
        })
}

pub async fn create_variant(
    services: &Services,
    product_id: i64,
    input: &VariantInput<'_>,
) -> AppResult<()> {
    product(services, product_id).await?;
    services.db.create_variant(product_id, input).await?;
    services.catalog.invalidate();
    Ok(())
}

/// The product a variant belongs to, with all its variants.
pub async fn product_of_variant(services: &Services, variant_id: i64) -> AppResult<Product> {
    let id = services
        .db
        .product_of_variant(variant_id)
        .await?
        .ok_or_else(|| AppError::not_found("That variant"))?;
    product(services, id).await
}

/// Changes a variant; returns the id of its product.
pub async fn update_variant(
    services: &Services,
    id: i64,
    input: &VariantInput<'_>,
) -> AppResult<i64> {
    services.db.update_variant(id, input).await?;
    services.catalog.invalidate();
    services
        .db
        .product_of_variant(id)
        .await?
        .ok_or_else(|| AppError::not_found("That variant"))
}

/// Orders, newest first, of one status or all.
pub async fn orders(services: &Services, status: Option<OrderStatus>) -> AppResult<Vec<Order>> {
    services.db.all_orders(status, MOST_ROWS).await
}

/// Anyone's order, by its code.
pub async fn order(services: &Services, code: &str) -> AppResult<Order> {
    let code = OrderCode::parse(code).ok_or_else(|| AppError::not_found("That order"))?;
    services
        .db
        .order_by_code(&code, None)
        .await?
        .ok_or_else(|| AppError::not_found("That order"))
}

/// Moves an order to its next step (placed → paid → shipped → delivered).
pub async fn advance_order(services: &Services, code: &str) -> AppResult<OrderStatus> {
    let order = order(services, code).await?;
    let now = services
        .db
        .advance_order(order.order.id, order.order.status)
        .await?;
    if now == OrderStatus::Shipped {
        super::notices::tell_shopper(services, &order, OrderNews::Shipped).await?;
    }
    Ok(now)
}

/// Cancels anyone's order that has not shipped; its stock returns.
pub async fn cancel_order(services: &Services, code: &str) -> AppResult<()> {
    let order = order(services, code).await?;
    super::shop::cancel(services, &order).await
}

/// Users whose name or email contains `search`, newest first; `search` is trimmed and cut
/// to [`MAX_USER_SEARCH_CHARS`].
pub async fn users(services: &Services, search: &str) -> AppResult<(String, Vec<UserRow>)> {
    let search: String = search.trim().chars().take(MAX_USER_SEARCH_CHARS).collect();
    let users = services.db.search_users(&search, MOST_ROWS).await?;
    Ok((search, users))
}

/// Every delivery option, inactive ones too.
pub async fn delivery_options(services: &Services) -> AppResult<Vec<DeliveryOption>> {
    services.db.delivery_options(true).await
}

/// Creates a delivery option (`id` None) or changes one; returns it as stored.
pub async fn save_delivery_option(
    services: &Services,
    id: Option<i64>,
    fields: &DeliveryFields,
) -> AppResult<DeliveryOption> {
    let details = DeliveryDetails::parse(fields).map_err(AppError::Invalid)?;
    let id = match id {
        Some(id) => {
            services.db.update_delivery_option(id, &details).await?;
            id
        }
        None => services.db.create_delivery_option(&details).await?,
    };
    services
        .db
        .delivery_option(id)
        .await?
        .ok_or_else(|| AppError::not_found("That delivery option"))
}

/// Every discount code, newest first.
pub async fn discount_codes(services: &Services) -> AppResult<Vec<DiscountCode>> {
    services.db.discount_codes().await
}

/// Creates a discount code (`id` None) or changes one's terms; returns it as stored.
pub async fn save_discount_code(
    services: &Services,
    id: Option<i64>,
    fields: &DiscountFields,
) -> AppResult<DiscountCode> {
    let details = DiscountDetails::parse(fields).map_err(AppError::Invalid)?;
    let id = match id {
        Some(id) => {
            services.db.update_discount_code(id, &details).await?;
            id
        }
        None => services.db.create_discount_code(&details).await?,
    };
    services
        .db
        .discount_code_by_id(id)
        .await?
        .ok_or_else(|| AppError::not_found("That discount code"))
}
