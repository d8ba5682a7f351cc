//! Staff pages: products and variants, orders, users.

use askama::Template;
use axum::Router;
use axum::extract::{Multipart, Path, Query, State};
use axum::response::Response;
use axum::routing::{get, post};
use axum_extra::extract::CookieJar;

use super::charts::BarChart;
use super::forms::Upload;
use super::{
    CsrfForm, Flash, Layout, PageResult, Staff, redirect_with, render, render_with_status,
};
use crate::auth::CsrfToken;
use crate::db::catalog::{Product, ProductInput, VariantInput};
use crate::db::orders::Order;
use crate::db::users::UserRow;
use crate::domain::{
    Cents, FieldErrors, OrderStatus, ProductDetails, ProductFields, VariantDetails, VariantFields,
};
use crate::error::AppError;
use crate::services::{
    self,
    insights::{Insights, Period},
    staff,
};
use crate::state::AppState;

pub fn router(state: AppState) -> Router<AppState> {
    Router::new()
        .route("/admin", get(products))
        .route("/admin/products", get(products).post(create_product))
        .route("/admin/products/new", get(new_product))
        .route(
            "/admin/products/{id}",
            get(edit_product).post(update_product),
        )
        .route(
            "/admin/products/{id}/picture",
            post(upload_picture).layer(crate::app::upload_body_limit(&state)),
        )
        .route("/admin/products/{id}/variants", post(create_variant))
        .route("/admin/variants/{id}", post(update_variant))
        .route("/admin/orders", get(orders))
        .route("/admin/orders/{code}/advance", post(advance_order))
        .route("/admin/orders/{code}/cancel", post(cancel_order))
        .route("/admin/users", get(users))
        .route("/admin/insights", get(insights))
}

#[derive(Template)]
#[template(path = "admin/products.html")]
struct ProductsPage {
    layout: Layout,
    products: Vec<Product>,
}

async fn products(State(state): State<AppState>, Staff(staff): Staff) -> PageResult<Response> {
    let products = staff::products(&state.services).await?;
    Ok(render(&ProductsPage {
        layout: Layout::load(&state, &staff.visitor, "Products", "admin").await?,
        products,
    }))
}

/// The product form as typed, so that a refused form comes back filled in.
#[derive(Debug, Default, serde::Deserialize)]
pub struct ProductForm {
    name: String,
    description: String,
    category: String,
    price: String,
    #[serde(default)]
    hidden: Option<String>,
}

impl ProductForm {
    fn fields(&self) -> ProductFields<'_> {
        ProductFields {
            name: &self.name,
            description: &self.description,
            category: &self.category,
            price: &self.price,
            hidden: self.hidden.is_some(),
        }
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
}

async fn new_product(State(state): State<AppState>, Staff(staff): Staff) -> PageResult<Response> {
    Ok(render(&ProductEditPage {
        layout: Layout::load(&state, &staff.visitor, "New product", "admin").await?,
        product: None,
        form: ProductForm::default(),
        errors: FieldErrors::default(),
    }))
}

async fn edit_product(
    State(state): State<AppState>,
    Staff(staff): Staff,
    Path(id): Path<i64>,
) -> PageResult<Response> {
    let product = staff::product(&state.services, id).await?;
    let form = ProductForm {
        name: product.product.name.clone(),
        description: product.product.description.clone(),
        category: product.product.category.clone(),
        price: product.price().form_value(),
        hidden: product.product.is_hidden().then(|| "on".to_owned()),
    };
    Ok(render(&ProductEditPage {
        layout: Layout::load(
            &state,
            &staff.visitor,
            format!("Edit {}", product.product.name),
            "admin",
        )
        .await?,
        product: Some(product),
        form,
        errors: FieldErrors::default(),
    }))
}

async fn save_product(
    state: &AppState,
    staff: &super::SignedIn,
    id: Option<i64>,
    form: ProductForm,
) -> PageResult<Response> {
    let refused = |errors: FieldErrors, form: ProductForm| async move {
        let product = match id {
            Some(id) => Some(staff::product(&state.services, id).await?),
            None => None,
        };
        let page = ProductEditPage {
            layout: Layout::load(state, &staff.visitor, "Product", "admin").await?,
            product,
            form,
            errors,
        };
        Ok::<_, super::PageError>(render_with_status(
            axum::http::StatusCode::UNPROCESSABLE_ENTITY,
            &page,
        ))
    };
    let product = match ProductDetails::parse(&form.fields()) {
        Ok(product) => product,
        Err(errors) => return refused(errors, form).await,
    };
    let input = ProductInput::from(&product);
    match staff::save_product(&state.services, id, &input).await {
        Ok(id) => Ok(redirect_with(
            CookieJar::new(),
            &format!("/admin/products/{id}"),
            Flash::Saved,
        )),
        Err(AppError::Conflict(message)) => {
            refused(FieldErrors::single("name", message), form).await
        }
        Err(other) => Err(other.into()),
    }
}

async fn create_product(
    State(state): State<AppState>,
    Staff(staff): Staff,
    CsrfForm(form): CsrfForm<ProductForm>,
) -> PageResult<Response> {
    save_product(&state, &staff, None, form).await
}

async fn update_product(
    State(state): State<AppState>,
    Staff(staff): Staff,
    Path(id): Path<i64>,
    CsrfForm(form): CsrfForm<ProductForm>,
) -> PageResult<Response> {
    save_product(&state, &staff, Some(id), form).await
}

async fn upload_picture(
    State(state): State<AppState>,
    Staff(_): Staff,
    jar: CookieJar,
    Path(id): Path<i64>,
    multipart: Multipart,
) -> PageResult<Response> {
    let upload = Upload::read(
        multipart,
        CsrfToken::from_jar(&jar).as_ref(),
        "picture",
        state.services.pictures(),
    )
    .await?;
    staff::set_product_picture(&state.services, id, upload.file).await?;
    Ok(redirect_with(
        jar,
        &format!("/admin/products/{id}"),
        Flash::Saved,
    ))
}

#[derive(serde::Deserialize)]
pub struct VariantForm {
    color: String,
    size: String,
    #[serde(default)]
    price: String,
    stock: String,
    #[serde(default)]
    hidden: Option<String>,
}

impl VariantForm {
    fn fields(&self) -> VariantFields<'_> {
        VariantFields {
            color: &self.color,
            size: &self.size,
            price: &self.price,
            stock: &self.stock,
            hidden: self.hidden.is_some(),
        }
    }
}

async fn create_variant(
    State(state): State<AppState>,
    Staff(_): Staff,
    jar: CookieJar,
    Path(product_id): Path<i64>,
    CsrfForm(form): CsrfForm<VariantForm>,
) -> PageResult<Response> {
    let variant = VariantDetails::parse(&form.fields())?;
    staff::create_variant(&state.services, product_id, &VariantInput::from(&variant)).await?;
    Ok(redirect_with(
        jar,
        &format!("/admin/products/{product_id}"),
        Flash::Saved,
    ))
}

async fn update_variant(
    State(state): State<AppState>,
    Staff(_): Staff,
    jar: CookieJar,
    Path(id): Path<i64>,
    CsrfForm(form): CsrfForm<VariantForm>,
) -> PageResult<Response> {
    let variant = VariantDetails::parse(&form.fields())?;
    let product_id =
        staff::update_variant(&state.services, id, &VariantInput::from(&variant)).await?;
    Ok(redirect_with(
        jar,
        &format!("/admin/products/{product_id}"),
        Flash::Saved,
    ))
}

#[derive(serde::Deserialize)]
pub struct OrdersQuery {
    status: Option<String>,
}

#[derive(Template)]
#[template(path = "admin/orders.html")]
struct OrdersPage {
    layout: Layout,
    orders: Vec<Order>,
    statuses: [OrderStatus; 5],
    selected: String,
}

async fn orders(
    State(state): State<AppState>,
    Staff(staff): Staff,
    Query(query): Query<OrdersQuery>,
) -> PageResult<Response> {
    let selected = query.status.unwrap_or_default();
    let status = match selected.as_str() {
        "" => None,
        other => Some(
            OrderStatus::parse(other)
                .ok_or_else(|| AppError::BadRequest("Unknown order status.".into()))?,
        ),
    };
    let orders = staff::orders(&state.services, status).await?;
    Ok(render(&OrdersPage {
        layout: Layout::load(&state, &staff.visitor, "Orders", "admin").await?,
        orders,
        statuses: OrderStatus::ALL,
        selected,
    }))
}

async fn advance_order(
    State(state): State<AppState>,
    Staff(_): Staff,
    jar: CookieJar,
    Path(code): Path<String>,
    CsrfForm(_): CsrfForm<super::cart::EmptyForm>,
) -> PageResult<Response> {
    staff::advance_order(&state.services, &code).await?;
    Ok(redirect_with(jar, "/admin/orders", Flash::OrderAdvanced))
}

async fn cancel_order(
    State(state): State<AppState>,
    Staff(_): Staff,
    jar: CookieJar,
    Path(code): Path<String>,
    CsrfForm(_): CsrfForm<super::cart::EmptyForm>,
) -> PageResult<Response> {
    staff::cancel_order(&state.services, &code).await?;
    Ok(redirect_with(jar, "/admin/orders", Flash::OrderCancelled))
}

#[derive(serde::Deserialize)]
pub struct UsersQuery {
    q: Option<String>,
}

#[derive(Template)]
#[template(path = "admin/users.html")]
struct UsersPage {
    layout: Layout,
    users: Vec<UserRow>,
    search: String,
}

async fn users(
    State(state): State<AppState>,
    Staff(staff): Staff,
    Query(query): Query<UsersQuery>,
) -> PageResult<Response> {
    let (search, users) =
        staff::users(&state.services, query.q.as_deref().unwrap_or_default()).await?;
    Ok(render(&UsersPage {
        layout: Layout::load(&state, &staff.visitor, "Users", "admin").await?,
        users,
        search,
    }))
}

#[derive(serde::Deserialize)]
pub struct PeriodQuery {
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
    error: Option<String>,
}

async fn insights(
    State(state): State<AppState>,
    Staff(staff): Staff,
    Query(query): Query<PeriodQuery>,
) -> PageResult<Response> {
    let today = services::insights::today();
    let (period, error) = match Period::parse(query.from.as_deref(), query.to.as_deref(), today) {
        Ok(period) => (period, None),
        Err(error) => (
            Period::parse(None, None, today)?,
            Some(error.public_message()),
        ),
    };
    let report = services::insights::report(&state.services, period).await?;
    let money = |cents: i64| Cents::new(cents).to_string();
    let count = |n: i64| n.to_string();
    let days: Vec<String> = report
        .daily
        .iter()
        .map(|d| d.label.get(5..).unwrap_or(&d.label).to_owned())
        .collect();
    let revenue: Vec<i64> = report.daily.iter().map(|d| d.revenue_cents).collect();
    let hours: Vec<String> = (0..24).map(|h| format!("{h:02}h")).collect();
    let steps: Vec<String> = report.funnel.iter().map(|s| s.step.to_owned()).collect();
    let step_counts: Vec<i64> = report.funnel.iter().map(|s| s.count).collect();
    let page = InsightsPage {
        revenue_chart: BarChart::new(
            "revenue",
            "Revenue per day",
            ("Day", "Revenue"),
            &days,
            &revenue,
            money,
        )
        .svg(),
        hours_chart: BarChart::new(
            "hours",
            "Orders by hour of the day (UTC)",
            ("Hour (UTC)", "Orders"),
            &hours,
            &report.orders_by_hour,
            count,
        )
        .svg(),
        funnel_chart: BarChart::new(
            "funnel",
            "From product view to order",
            ("Step", "Events"),
            &steps,
            &step_counts,
            count,
        )
        .svg(),
        layout: Layout::load(&state, &staff.visitor, "Insights", "admin").await?,
        report,
        error,
    };
    let status = if page.error.is_some() {
        axum::http::StatusCode::UNPROCESSABLE_ENTITY
    } else {
        axum::http::StatusCode::OK
    };
    Ok(render_with_status(status, &page))
}
