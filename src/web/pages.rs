//! Home and Radar.

use askama::Template;
use axum::extract::{Query, State};
use axum::response::Response;

use super::{Layout, PageResult, render};
use crate::auth::Visitor;
use crate::catalog_seed::{City, cities};
use crate::db::catalog::Product;
use crate::domain::geo::Coordinates;
use crate::services::catalog;
use crate::services::radar::{self, NearbyPlace};
use crate::state::AppState;

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage {
    layout: Layout,
    featured: Vec<Product>,
}

pub async fn home(State(state): State<AppState>, visitor: Visitor) -> PageResult<Response> {
    let featured = catalog::snapshot(&state.services)
        .await?
        .products
        .iter()
        .take(3)
        .cloned()
        .collect();
    Ok(render(&HomePage {
        layout: Layout::load(&state, &visitor, "Coffee Radar", "home").await?,
        featured,
    }))
}

#[derive(serde::Deserialize)]
pub struct RadarQuery {
    city: Option<String>,
    lat: Option<String>,
    lon: Option<String>,
}

#[derive(Template)]
#[template(path = "radar.html")]
struct RadarPage {
    layout: Layout,
    cities: &'static [City],
    selected_city: String,
    origin: Option<String>,
    places: Vec<NearbyPlace>,
    error: Option<String>,
}

pub async fn radar(
    State(state): State<AppState>,
    visitor: Visitor,
    Query(query): Query<RadarQuery>,
) -> PageResult<Response> {
    let mut error = None;
    let mut selected_city = String::new();
    let origin = match (&query.lat, &query.lon, &query.city) {
        (Some(lat), Some(lon), _) => match parse_coordinates(lat, lon) {
            Ok(coordinates) => Some((coordinates, "your location".to_owned())),
            Err(message) => {
                error = Some(message);
                None
            }
        },
        (_, _, Some(slug)) if !slug.is_empty() => match cities().iter().find(|c| &c.slug == slug) {
            Some(city) => {
                selected_city = city.slug.clone();
                Some((
                    Coordinates {
                        lat: city.lat,
                        lon: city.lon,
                    },
                    city.name.clone(),
                ))
            }
            None => {
                error = Some("Pick a city from the list.".to_owned());
                None
            }
        },
        _ => None,
    };
    let places = match &origin {
        Some((from, _)) => {
            radar::nearby(&state.services, *from, 10, visitor.user().map(|u| u.id)).await?
        }
        None => Vec::new(),
    };
    let page = RadarPage {
        layout: Layout::load(&state, &visitor, "Radar", "radar").await?,
        cities: cities(),
        selected_city,
        origin: origin.map(|(_, name)| name),
        places,
        error,
    };
    if page.error.is_some() {
        return Ok(super::render_with_status(
            axum::http::StatusCode::BAD_REQUEST,
            &page,
        ));
    }
    Ok(render(&page))
}

pub fn parse_coordinates(lat: &str, lon: &str) -> Result<Coordinates, String> {
    let number = |s: &str| {
        s.trim()
            .parse::<f64>()
            .map_err(|_| "Latitude and longitude must be numbers.".to_owned())
    };
    Coordinates::parse(number(lat)?, number(lon)?)
}
