//! Who is registered: a search by name or email, newest first.

use askama::Template;
use axum::extract::{Query, State};
use axum::response::Response;

use super::layout;
use crate::db::users::UserRow;
use crate::services::staff;
use crate::state::AppState;
use crate::web::{Layout, PageResult, Staff, render};

#[derive(serde::Deserialize)]
pub(super) struct UsersQuery {
    q: Option<String>,
}

#[derive(Template)]
#[template(path = "admin/users.html")]
struct UsersPage {
    layout: Layout,
    users: Vec<UserRow>,
    /// The search as it was run (trimmed and cut to length), shown back in the box.
    search: String,
}

pub(super) async fn search(
    State(state): State<AppState>,
    Staff(staff): Staff,
    Query(query): Query<UsersQuery>,
) -> PageResult<Response> {
    let (search, users) =
        staff::users(&state.services, query.q.as_deref().unwrap_or_default()).await?;
    Ok(render(&UsersPage {
        layout: layout(&state, &staff, "Users").await?,
        users,
        search,
    }))
}
