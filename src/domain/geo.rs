//! Distances and directions for the Radar.

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Coordinates {
    pub lat: f64,
    pub lon: f64,
}

impl Coordinates {
    pub fn parse(lat: f64, lon: f64) -> Result<Self, String> {
        if !lat.is_finite() || !(-90.0..=90.0).contains(&lat) {
            return Err("Latitude must be between -90 and 90.".into());
        }
        if !lon.is_finite() || !(-180.0..=180.0).contains(&lon) {
            return Err("Longitude must be between -180 and 180.".into());
        }
        Ok(Self { lat, lon })
    }

    /// Great-circle distance in kilometres (haversine).
    pub fn distance_km(self, other: Coordinates) -> f64 {
        const EARTH_RADIUS_KM: f64 = 6371.0;
        let (lat1, lat2) = (self.lat.to_radians(), other.lat.to_radians());
        let d_lat = lat2 - lat1;
        let d_lon = (other.lon - self.lon).to_radians();
        let a = (d_lat / 2.0).sin().powi(2) + lat1.cos() * lat2.cos() * (d_lon / 2.0).sin().powi(2);
        2.0 * EARTH_RADIUS_KM * a.sqrt().asin()
    }

    /// The direction to set off in from here to `other`, in degrees clockwise from north
    /// (0 to 360): the initial bearing of the great circle.
    pub fn bearing_deg(self, other: Coordinates) -> f64 {
        let (lat1, lat2) = (self.lat.to_radians(), other.lat.to_radians());
        let d_lon = (other.lon - self.lon).to_radians();
        let y = d_lon.sin() * lat2.cos();
        let x = lat1.cos() * lat2.sin() - lat1.sin() * lat2.cos() * d_lon.cos();
        y.atan2(x).to_degrees().rem_euclid(360.0)
    }
}

/// A bearing as one of the eight compass points people say: "north", "south-west"…
pub fn compass_point(bearing_deg: f64) -> &'static str {
    const POINTS: [&str; 8] = [
        "north",
        "north-east",
        "east",
        "south-east",
        "south",
        "south-west",
        "west",
        "north-west",
    ];
    let sector = (bearing_deg.rem_euclid(360.0) / 45.0).round() as usize % POINTS.len();
    POINTS[sector]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn madrid_to_barcelona_is_about_505_km() {
        let madrid = Coordinates::parse(40.4168, -3.7038).unwrap();
        let barcelona = Coordinates::parse(41.3874, 2.1686).unwrap();
        let d = madrid.distance_km(barcelona);
        assert!((d - 505.0).abs() < 5.0, "{d}");
    }

    #[test]
    fn bearings_point_the_way_on_a_compass() {
        let madrid = Coordinates::parse(40.4168, -3.7038).unwrap();
        let barcelona = Coordinates::parse(41.3874, 2.1686).unwrap();
        let bearing = madrid.bearing_deg(barcelona);
        assert!((bearing - 74.0).abs() < 2.0, "{bearing}");
        assert_eq!(compass_point(bearing), "east");
        let north = Coordinates::parse(41.0, -3.7038).unwrap();
        assert!(madrid.bearing_deg(north).abs() < 0.01);
        assert!((north.bearing_deg(madrid) - 180.0).abs() < 0.01);
        for (bearing, point) in [
            (0.0, "north"),
            (44.0, "north-east"),
            (200.0, "south"),
            (337.6, "north"),
            (359.9, "north"),
            (250.0, "west"),
        ] {
            assert_eq!(compass_point(bearing), point, "{bearing}");
        }
    }

    #[test]
    fn out_of_range_coordinates_are_refused() {
        assert!(Coordinates::parse(91.0, 0.0).is_err());
        assert!(Coordinates::parse(0.0, f64::NAN).is_err());
    }
}
