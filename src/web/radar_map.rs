//! The Radar's picture: the places found drawn around the chosen point at their bearing
//! and distance, as SVG made on the server (no map tiles from elsewhere, no script). Rings
//! mark distances on a square-root scale, so that the places close by spread out even when
//! a far one is found too; each place is a numbered blip, the number of its entry in the
//! list under the picture, which says the same in words for screen readers and search.

use askama::Template;

use crate::domain::geo::{Coordinates, compass_point};
use crate::services::radar::{NearbyPlace, distance_text};

/// The picture's size in SVG units; the centre is the chosen point.
const SIZE: f64 = 320.0;
const CENTRE: f64 = SIZE / 2.0;
/// The outer ring's radius, leaving room for the compass letters.
const OUTER: f64 = 136.0;
const RINGS: usize = 3;

#[derive(Template)]
#[template(path = "radar.svg", escape = "html")]
pub struct RadarPicture {
    title: String,
    description: String,
    rings: Vec<Ring>,
    blips: Vec<Blip>,
}

struct Ring {
    radius: f64,
    label: String,
    /// Where the label sits: just outside the ring, to the north-east.
    label_x: f64,
    label_y: f64,
}

struct Blip {
    number: usize,
    x: f64,
    y: f64,
    tooltip: String,
}

/// Where a place lies from the chosen point, in words: "350 m north-east".
pub fn direction_label(from: Coordinates, nearby: &NearbyPlace) -> String {
    let bearing = from.bearing_deg(nearby.place.coordinates());
    format!("{} {}", nearby.distance_label(), compass_point(bearing))
}

impl RadarPicture {
    /// The picture of `places` around `from` (named `origin`), or `None` when there is no
    /// place to draw.
    pub fn new(from: Coordinates, origin: &str, places: &[NearbyPlace]) -> Option<Self> {
        let furthest = places.iter().map(|p| p.distance_km).fold(0.0, f64::max);
        if places.is_empty() {
            return None;
        }
        let outer_km = round_up(furthest);
        let rings = (1..=RINGS)
            .map(|n| {
                let share = n as f64 / RINGS as f64;
                let km = outer_km * share * share;
                let radius = OUTER * share;
                let offset = radius * std::f64::consts::FRAC_1_SQRT_2 + 3.0;
                Ring {
                    radius,
                    label: distance_text(km),
                    label_x: CENTRE + offset,
                    label_y: CENTRE - offset,
                }
            })
            .collect();
        let blips = places
            .iter()
            .enumerate()
            .map(|(index, nearby)| {
                let bearing = from.bearing_deg(nearby.place.coordinates()).to_radians();
                let radius = OUTER * (nearby.distance_km / outer_km).min(1.0).sqrt();
                Blip {
                    number: index + 1,
                    x: CENTRE + radius * bearing.sin(),
                    y: CENTRE - radius * bearing.cos(),
                    tooltip: format!(
                        "{}. {}: {}",
                        index + 1,
                        nearby.place.name,
                        direction_label(from, nearby)
                    ),
                }
            })
            .collect();
        let nearest = &places[0];
        Some(Self {
            title: format!("Coffee places around {origin}"),
            description: format!(
                "A radar picture centred on {origin}, north at the top, with {} places \
                 drawn at their direction and distance within {}; the nearest, {}, is {}. \
                 The list below names every place.",
                places.len(),
                distance_text(outer_km),
                nearest.place.name,
                direction_label(from, nearest),
            ),
            rings,
            blips,
        })
    }
}

/// The distance a round outer ring stands for: the next of 1, 2 or 5 times a power of ten
/// kilometres at or above `km`.
fn round_up(km: f64) -> f64 {
    let km = km.max(0.1);
    let power = 10f64.powf(km.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|step| step * power)
        .find(|ring| *ring >= km - 1e-9)
        .unwrap_or(10.0 * power)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_outer_ring_is_a_round_distance_at_or_beyond_the_furthest_place() {
        for (km, ring) in [
            (0.03, 0.1),
            (0.34, 0.5),
            (0.5, 0.5),
            (1.2, 2.0),
            (2.5, 5.0),
            (7.0, 10.0),
            (12.0, 20.0),
        ] {
            assert!(
                (round_up(km) - ring).abs() < 1e-9,
                "{km} → {}",
                round_up(km)
            );
        }
    }
}
