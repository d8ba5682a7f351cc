//! The Radar: coffee places sorted by distance from where the shopper is.

use super::Services;
use crate::db::places::PlaceRow;
use crate::domain::geo::Coordinates;
use crate::error::AppResult;
use crate::events::{Event, EventKind};

pub struct NearbyPlace {
    pub place: PlaceRow,
    pub distance_km: f64,
}

impl NearbyPlace {
    pub fn distance_label(&self) -> String {
        distance_text(self.distance_km)
    }
}

/// A distance for people: "350 m" nearby, "12.3 km" further, "1,234 km" far away.
pub fn distance_text(km: f64) -> String {
    if km < 1.0 {
        format!("{} m", (km * 1000.0).round() as i64)
    } else if km < 100.0 {
        format!("{km:.1} km")
    } else {
        format!("{} km", km.round() as i64)
    }
}

/// The `limit` places nearest to `from`, nearest first; counted as a Radar search (by
/// `viewer`, when signed in) for the insights.
pub async fn nearby(
    services: &Services,
    from: Coordinates,
    limit: usize,
    viewer: Option<i64>,
) -> AppResult<Vec<NearbyPlace>> {
    services.record(Event::new(EventKind::RadarSearch).user(viewer));
    let mut places: Vec<NearbyPlace> = services
        .db
        .places()
        .await?
        .into_iter()
        .map(|place| NearbyPlace {
            distance_km: from.distance_km(place.coordinates()),
            place,
        })
        .collect();
    places.sort_by(|a, b| a.distance_km.total_cmp(&b.distance_km));
    places.truncate(limit);
    Ok(places)
}

/// The first `limit` places, by city and name.
pub async fn all(services: &Services, limit: usize) -> AppResult<Vec<PlaceRow>> {
    let mut places = services.db.places().await?;
    places.truncate(limit);
    Ok(places)
}
