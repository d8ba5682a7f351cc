//! Home, Radar, and the shop's own pages linked from the footer (contact, delivery and
//! returns, privacy, terms), whose text lives in plain files under `content/` so that it
//! can be edited without touching a template.

use askama::Template;
use axum::extract::{Query, State};
use axum::response::Response;

use super::radar_map::{RadarPicture, direction_label};
use super::{Layout, PageResult, render};
use crate::auth::{Browsing, Visitor};
use crate::catalog_seed::{City, cities};
use crate::db::catalog::Product;
use crate::domain::geo::Coordinates;
use crate::services::catalog;
use crate::services::radar::{self, NearbyPlace};
use crate::state::AppState;

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage<'a> {
    layout: Layout,
    /// Borrowed from the catalog snapshot: the page is drawn from it, not from a copy.
    featured: &'a [Product],
}

pub async fn home(
    State(state): State<AppState>,
    Browsing(visitor): Browsing,
) -> PageResult<Response> {
    let catalog = catalog::snapshot(&state.services).await?;
    let featured = &catalog.products[..catalog.products.len().min(3)];
    Ok(render(&HomePage {
        layout: Layout::load(&state, &visitor, HOME_TITLE, "home").await?,
        featured,
    }))
}

/// The home page's title; it names the shop, so it is not followed by the name again.
const HOME_TITLE: &str = "Coffee Radar: coffee gear and the best coffee near you";

/// One of the shop's pages of text: its address and its text, a title on the first line
/// and then paragraphs separated by blank lines.
pub struct InfoPage {
    pub path: &'static str,
    text: &'static str,
}

/// The pages linked from every page's footer, in the footer's order.
pub static INFO_PAGES: [InfoPage; 4] = [
    InfoPage {
        path: "/contact",
        text: include_str!("../../content/contact.txt"),
    },
    InfoPage {
        path: "/delivery-and-returns",
        text: include_str!("../../content/delivery-and-returns.txt"),
    },
    InfoPage {
        path: "/privacy",
        text: include_str!("../../content/privacy.txt"),
    },
    InfoPage {
        path: "/terms",
        text: include_str!("../../content/terms.txt"),
    },
];

impl InfoPage {
    pub fn title(&self) -> &'static str {
        self.text.lines().next().unwrap_or_default().trim()
    }

    /// The paragraphs after the title, each joined onto one line.
    pub fn paragraphs(&self) -> Vec<String> {
        let body = self.text.split_once('\n').map_or("", |(_, rest)| rest);
        body.split("\n\n")
            .map(|p| p.split_whitespace().collect::<Vec<_>>().join(" "))
            .filter(|p| !p.is_empty())
            .collect()
    }
}

#[derive(Template)]
#[template(path = "info.html")]
struct InfoTemplate {
    layout: Layout,
    page: &'static InfoPage,
}

pub async fn info(
    state: AppState,
    visitor: Visitor,
    page: &'static InfoPage,
) -> PageResult<Response> {
    Ok(render(&InfoTemplate {
        layout: Layout::load(&state, &visitor, page.title(), "").await?,
        page,
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
    places: Vec<PlaceOnRadar>,
    picture: Option<RadarPicture>,
    error: Option<String>,
}

/// A place found, with where it lies from the chosen point in words.
struct PlaceOnRadar {
    nearby: NearbyPlace,
    /// "350 m north-east".
    direction: String,
}

impl PlaceOnRadar {
    /// The place for the visitor's own map app (RFC 5870).
    fn geo_uri(&self) -> String {
        let place = &self.nearby.place;
        format!("geo:{:.6},{:.6}", place.lat, place.lon)
    }

    /// The place on OpenStreetMap's site, for browsers that have no map app.
    fn map_url(&self) -> String {
        let place = &self.nearby.place;
        format!(
            "https://www.openstreetmap.org/?mlat={lat:.6}&mlon={lon:.6}#map=18/{lat:.6}/{lon:.6}",
            lat = place.lat,
            lon = place.lon
        )
    }
}

pub async fn radar(
    State(state): State<AppState>,
    Browsing(visitor): Browsing,
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
    let (places, picture) = match &origin {
        Some((from, name)) => {
            let found =
                radar::nearby(&state.services, *from, 10, visitor.user().map(|u| u.id)).await?;
            let picture = RadarPicture::new(*from, name, &found);
            let places = found
                .into_iter()
                .map(|nearby| PlaceOnRadar {
                    direction: direction_label(*from, &nearby),
                    nearby,
                })
                .collect();
            (places, picture)
        }
        None => (Vec::new(), None),
    };
    let page = RadarPage {
        layout: Layout::load(&state, &visitor, "Radar", "radar").await?,
        cities: cities(),
        selected_city,
        origin: origin.map(|(_, name)| name),
        places,
        picture,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_info_page_has_a_title_and_paragraphs_on_one_line_each() {
        for page in &INFO_PAGES {
            assert!(!page.title().is_empty(), "{}", page.path);
            let paragraphs = page.paragraphs();
            assert!(paragraphs.len() >= 2, "{}", page.path);
            assert!(paragraphs.iter().all(|p| !p.contains('\n')));
        }
    }
}
