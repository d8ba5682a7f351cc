//! Products and their variants: the list, one form for a new product and for editing one,
//! the product's picture and its colours' pictures, and the rows of its variants on the
//! product's page.
//!
//! Every change that succeeds goes back to the product's page, which says it was saved; a
//! refused product form, or a refused variant row, comes back on that page filled in as
//! typed, with the messages next to the fields.

use askama::Template;
use axum::extract::{Multipart, Path, State};
use axum::response::Response;
use axum_extra::extract::CookieJar;

use super::{layout, render_page};
use crate::auth::CsrfToken;
use crate::db::catalog::{Product, ProductInput, VariantInput, VariantRow};
use crate::domain::{FieldErrors, ProductDetails, ProductFields, VariantDetails, VariantFields};
use crate::error::AppError;
use crate::services::staff;
use crate::state::AppState;
use crate::web::forms::Upload;
use crate::web::{CsrfForm, Flash, Layout, PageResult, SignedIn, Staff, redirect_with, render};

#[derive(Template)]
#[template(path = "admin/products.html")]
struct ProductsPage {
    layout: Layout,
    products: Vec<Product>,
}

pub(super) async fn list(
    State(state): State<AppState>,
    Staff(staff): Staff,
) -> PageResult<Response> {
    let products = staff::products(&state.services).await?;
    Ok(render(&ProductsPage {
        layout: layout(&state, &staff, "Products").await?,
        products,
    }))
}

/// The product form as typed, so that a refused form comes back filled in.
#[derive(Debug, Default, serde::Deserialize)]
pub(super) struct ProductForm {
    name: String,
    description: String,
    category: String,
    price: String,
    #[serde(default)]
    hidden: Option<String>,
}

impl ProductForm {
    /// The form as it stands for a product already in the catalog.
    fn of(product: &Product) -> Self {
        Self {
            name: product.product.name.clone(),
            description: product.product.description.clone(),
            category: product.product.category.clone(),
            price: product.price().form_value(),
            hidden: product.product.is_hidden().then(|| "on".to_owned()),
        }
    }

    /// The product checked, or the fields it was refused for.
    fn check(&self) -> Result<ProductDetails, FieldErrors> {
        ProductDetails::parse(&ProductFields {
            name: &self.name,
            description: &self.description,
            category: &self.category,
            price: &self.price,
            hidden: self.hidden.is_some(),
        })
    }
}

#[derive(Template)]
#[template(path = "admin/product.html")]
struct ProductEditPage {
    layout: Layout,
    /// `None` while creating a product.
    product: Option<Product>,
    form: ProductForm,
    errors: FieldErrors,
    /// A variant row sent and refused, shown again as typed.
    refused_variant: Option<RefusedVariant>,
}

/// A variant row as typed and the fields it was refused for; `id` is `None` for the form
/// that adds a variant.
struct RefusedVariant {
    id: Option<i64>,
    form: VariantForm,
    errors: FieldErrors,
}

impl ProductEditPage {
    /// The product's colours, each once, with the picture staff gave it, if any.
    fn colours(&self) -> Vec<(String, Option<String>)> {
        let Some(product) = &self.product else {
            return Vec::new();
        };
        let mut colours: Vec<&str> = Vec::new();
        for variant in &product.variants {
            if !colours.contains(&variant.color.as_str()) {
                colours.push(&variant.color);
            }
        }
        colours
            .into_iter()
            .map(|color| {
                let picture = product.color_picture(color).map(|p| p.image_url());
                (color.to_owned(), picture)
            })
            .collect()
    }

    /// The refused row when it is the variant `id`'s (`None`: the new variant's form).
    fn refused_row(&self, id: Option<i64>) -> Option<&RefusedVariant> {
        self.refused_variant.as_ref().filter(|r| r.id == id)
    }

    /// What the variant's row shows in `field`: what was typed when the row was refused,
    /// else the variant as stored.
    fn row_value(&self, variant: &VariantRow, field: &str) -> String {
        if let Some(refused) = self.refused_row(Some(variant.id)) {
            return refused.form.field(field).to_owned();
        }
        match field {
            "color" => variant.color.clone(),
            "size" => variant.size.clone(),
            "price" => variant.own_price_text(),
            "stock" => variant.stock.to_string(),
            _ => String::new(),
        }
    }

    /// Why the variant row `id` was refused in `field`, if it was.
    fn error_in_row(&self, id: &i64, field: &str) -> Option<&str> {
        self.refused_row(Some(*id))
            .and_then(|r| r.errors.get(field))
    }

    /// What the new variant's form shows in `field`: what was typed when it was refused,
    /// else no stock and nothing else.
    fn new_value(&self, field: &str) -> &str {
        match self.refused_row(None) {
            Some(refused) => refused.form.field(field),
            None if field == "stock" => "0",
            None => "",
        }
    }

    /// Why the new variant's form was refused in `field`, if it was.
    fn error_in_new(&self, field: &str) -> Option<&str> {
        self.refused_row(None).and_then(|r| r.errors.get(field))
    }
}

/// The product form as typed, with `errors` next to their fields (and then answered 422).
async fn form_as_typed(
    state: &AppState,
    staff: &SignedIn,
    title: impl Into<String>,
    product: Option<Product>,
    form: ProductForm,
    errors: FieldErrors,
) -> PageResult<Response> {
    let shows_refusal = !errors.is_empty();
    let page = ProductEditPage {
        layout: layout(state, staff, title).await?,
        product,
        form,
        errors,
        refused_variant: None,
    };
    Ok(render_page(&page, shows_refusal))
}

/// The product's page with a variant row refused: the row as typed, the messages beside
/// its fields, answered 422.
async fn variant_refused(
    state: &AppState,
    staff: &SignedIn,
    product: Product,
    refused: RefusedVariant,
) -> PageResult<Response> {
    let page = ProductEditPage {
        layout: layout(state, staff, format!("Edit {}", product.product.name)).await?,
        form: ProductForm::of(&product),
        product: Some(product),
        errors: FieldErrors::default(),
        refused_variant: Some(refused),
    };
    Ok(render_page(&page, true))
}

/// The product form filled in from `product` as stored, or empty for a new product.
async fn form_as_stored(
    state: &AppState,
    staff: &SignedIn,
    title: impl Into<String>,
    product: Option<Product>,
) -> PageResult<Response> {
    let form = product.as_ref().map(ProductForm::of).unwrap_or_default();
    form_as_typed(state, staff, title, product, form, FieldErrors::default()).await
}

/// Back to the product's page, which says the change was saved.
fn saved(product_id: i64) -> Response {
    redirect_with(
        CookieJar::new(),
        &format!("/admin/products/{product_id}"),
        Flash::Saved,
    )
}

pub(super) async fn new_form(
    State(state): State<AppState>,
    Staff(staff): Staff,
) -> PageResult<Response> {
    form_as_stored(&state, &staff, "New product", None).await
}

pub(super) async fn edit_form(
    State(state): State<AppState>,
    Staff(staff): Staff,
    Path(id): Path<i64>,
) -> PageResult<Response> {
    let product = staff::product(&state.services, id).await?;
    let title = format!("Edit {}", product.product.name);
    form_as_stored(&state, &staff, title, Some(product)).await
}

pub(super) async fn create(
    State(state): State<AppState>,
    Staff(staff): Staff,
    CsrfForm(form): CsrfForm<ProductForm>,
) -> PageResult<Response> {
    save(&state, &staff, None, form).await
}

pub(super) async fn update(
    State(state): State<AppState>,
    Staff(staff): Staff,
    Path(id): Path<i64>,
    CsrfForm(form): CsrfForm<ProductForm>,
) -> PageResult<Response> {
    save(&state, &staff, Some(id), form).await
}

/// Saves the product `id`, or a new one when `id` is `None`. Invalid fields and a name that
/// is taken come back to the form.
async fn save(
    state: &AppState,
    staff: &SignedIn,
    id: Option<i64>,
    form: ProductForm,
) -> PageResult<Response> {
    let refused = |errors: FieldErrors, form: ProductForm| async move {
        let product = match id {
            Some(id) => Some(staff::product(&state.services, id).await?),
            None => None,
        };
        form_as_typed(state, staff, "Product", product, form, errors).await
    };
    let product = match form.check() {
        Ok(product) => product,
        Err(errors) => return refused(errors, form).await,
    };
    match staff::save_product(&state.services, id, &ProductInput::from(&product)).await {
        Ok(id) => Ok(saved(id)),
        Err(AppError::Conflict(message)) => {
            refused(FieldErrors::single("name", message), form).await
        }
        Err(other) => Err(other.into()),
    }
}

pub(super) async fn upload_picture(
    State(state): State<AppState>,
    Staff(_): Staff,
    jar: CookieJar,
    Path(id): Path<i64>,
    multipart: Multipart,
) -> PageResult<Response> {
    let upload = read_picture(&state, &jar, multipart, None).await?;
    staff::set_product_picture(&state.services, id, upload.file).await?;
    Ok(saved(id))
}

/// Gives one colour its own picture (or replaces it); the colour is a field of the form.
pub(super) async fn upload_color_picture(
    State(state): State<AppState>,
    Staff(_): Staff,
    jar: CookieJar,
    Path(id): Path<i64>,
    multipart: Multipart,
) -> PageResult<Response> {
    let upload = read_picture(&state, &jar, multipart, Some("color")).await?;
    staff::set_color_picture(&state.services, id, &upload.text, upload.file).await?;
    Ok(saved(id))
}

/// The `picture` of a staff upload form, with the text field `text_field` if asked.
async fn read_picture(
    state: &AppState,
    jar: &CookieJar,
    multipart: Multipart,
    text_field: Option<&str>,
) -> Result<Upload, crate::web::PageError> {
    Upload::read_with_text(
        multipart,
        CsrfToken::from_jar(jar).as_ref(),
        "picture",
        text_field,
        state.services.pictures(),
    )
    .await
}

#[derive(serde::Deserialize)]
pub(super) struct ColorForm {
    color: String,
}

/// Takes a colour's own picture away, so the product's picture shows for it again.
pub(super) async fn remove_color_picture(
    State(state): State<AppState>,
    Staff(_): Staff,
    Path(id): Path<i64>,
    CsrfForm(form): CsrfForm<ColorForm>,
) -> PageResult<Response> {
    staff::remove_color_picture(&state.services, id, &form.color).await?;
    Ok(saved(id))
}

/// A variant's row as typed; an empty price means the product's own.
#[derive(serde::Deserialize)]
pub(super) struct VariantForm {
    color: String,
    size: String,
    #[serde(default)]
    price: String,
    stock: String,
    #[serde(default)]
    hidden: Option<String>,
}

impl VariantForm {
    /// The text typed in `field` (the form's field names), for showing it again.
    fn field(&self, field: &str) -> &str {
        match field {
            "color" => &self.color,
            "size" => &self.size,
            "price" => &self.price,
            "stock" => &self.stock,
            _ => "",
        }
    }

    /// The variant checked, or the fields it was refused for.
    fn check(&self) -> Result<VariantDetails, FieldErrors> {
        VariantDetails::parse(&VariantFields {
            color: &self.color,
            size: &self.size,
            price: &self.price,
            stock: &self.stock,
            hidden: self.hidden.is_some(),
        })
    }
}

pub(super) async fn create_variant(
    State(state): State<AppState>,
    Staff(staff): Staff,
    Path(product_id): Path<i64>,
    CsrfForm(form): CsrfForm<VariantForm>,
) -> PageResult<Response> {
    let variant = match form.check() {
        Ok(variant) => variant,
        Err(errors) => {
            let product = staff::product(&state.services, product_id).await?;
            let refused = RefusedVariant {
                id: None,
                form,
                errors,
            };
            return variant_refused(&state, &staff, product, refused).await;
        }
    };
    staff::create_variant(&state.services, product_id, &VariantInput::from(&variant)).await?;
    Ok(saved(product_id))
}

pub(super) async fn update_variant(
    State(state): State<AppState>,
    Staff(staff): Staff,
    Path(id): Path<i64>,
    CsrfForm(form): CsrfForm<VariantForm>,
) -> PageResult<Response> {
    let variant = match form.check() {
        Ok(variant) => variant,
        Err(errors) => {
            let product = staff::product_of_variant(&state.services, id).await?;
            let refused = RefusedVariant {
                id: Some(id),
                form,
                errors,
            };
            return variant_refused(&state, &staff, product, refused).await;
        }
    };
    let product_id =
        staff::update_variant(&state.services, id, &VariantInput::from(&variant)).await?;
    Ok(saved(product_id))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::catalog::ProductRow;
    use crate::domain::{Cents, Visibility};

    fn stored(price_cents: i64, visibility: Visibility) -> Product {
        Product {
            product: ProductRow {
                id: 7,
                slug: "house-blend".into(),
                name: "House Blend".into(),
                description: "Chocolate and hazelnut.".into(),
                category: "Coffee".into(),
                price_cents,
                image_key: None,
                visibility,
                sort_order: 0,
                created_at: 0,
            },
            variants: Vec::new(),
            color_pictures: Vec::new(),
        }
    }

    #[test]
    fn a_stored_product_saved_again_unchanged_keeps_its_price_and_visibility() {
        for (price_cents, visibility) in [(1250, Visibility::Shown), (5, Visibility::Hidden)] {
            let product = ProductForm::of(&stored(price_cents, visibility))
                .check()
                .unwrap();
            assert_eq!(product.name(), "House Blend");
            assert_eq!(product.slug().as_str(), "house-blend");
            assert_eq!(product.price(), Cents::new(price_cents));
            assert_eq!(product.visibility(), visibility);
        }
    }
}
