//! Coffee places for the Radar.

use sqlx::FromRow;

use super::Db;
use crate::domain::geo::Coordinates;
use crate::error::AppResult;

#[derive(Debug, Clone, FromRow, serde::Serialize, serde::Deserialize)]
pub struct PlaceRow {
    pub id: i64,
    pub name: String,
    pub address: String,
    pub city: String,
    pub lat: f64,
    pub lon: f64,
    pub description: String,
}

impl PlaceRow {
    pub fn coordinates(&self) -> Coordinates {
        Coordinates {
            lat: self.lat,
            lon: self.lon,
        }
    }
}

impl Db {
    pub async fn places(&self) -> AppResult<Vec<PlaceRow>> {
        Ok(self
            .query_as("SELECT id, name, address, city, lat, lon, description FROM places ORDER BY city, name")
            .fetch_all(self.pool())
            .await?)
    }

    pub async fn insert_place(&self, place: &PlaceRow) -> AppResult<()> {
        self.query(
            "INSERT INTO places (id, name, address, city, lat, lon, description) VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(place.id)
        .bind(&place.name)
        .bind(&place.address)
        .bind(&place.city)
        .bind(place.lat)
        .bind(place.lon)
        .bind(&place.description)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    pub async fn place_count(&self) -> AppResult<i64> {
        let (count,): (i64,) = self
            .query_as("SELECT COUNT(*) FROM places")
            .fetch_one(self.pool())
            .await?;
        Ok(count)
    }
}
