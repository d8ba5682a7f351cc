//! The Radar: coffee places sorted by distance from where the shopper is.

use crate::app::AppState;
use crate::db::places::PlaceRow;
use crate::domain::geo::Coordinates;
use crate::error::AppResult;

pub struct NearbyPlace {
    pub place: PlaceRow,
    pub distance_km: f64,
}

impl NearbyPlace {
    /// "350 m" nearby, "12.3 km" further, "1,234 km" far away.
    pub fn distance_label(&self) -> String {
        let km = self.distance_km;
        if km < 1.0 {
            format!("{} m", (km * 1000.0).round() as i64)
        } else if km < 100.0 {
            format!("{km:.1} km")
        } else {
            format!("{} km", km.round() as i64)
        }
    }
}

pub async fn nearby(
    state: &AppState,
    from: Coordinates,
    limit: usize,
) -> AppResult<Vec<NearbyPlace>> {
    let mut places: Vec<NearbyPlace> = state
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
