//! The demo catalog and the Radar's coffee places, loaded from the fixture files compiled
//! into the binary. Seeding is idempotent: what is already there is left alone.

use std::sync::LazyLock;

use bytes::Bytes;
use serde::Deserialize;

use crate::db::Db;
use crate::db::catalog::{SeedProduct, SeedVariant};
use crate::db::places::PlaceRow;
use crate::storage::Storage;

#[derive(Deserialize)]
struct CatalogFixture {
    products: Vec<ProductFixture>,
}

#[derive(Deserialize)]
struct ProductFixture {
    slug: String,
    name: String,
    description: String,
    category: String,
    price_cents: i64,
    image: String,
    /// Pictures of some colours, by the colour's name.
    #[serde(default)]
    color_images: std::collections::BTreeMap<String, String>,
    variants: Vec<SeedVariant>,
}

#[derive(Deserialize)]
struct PlacesFixture {
    cities: Vec<City>,
    places: Vec<PlaceFixture>,
}

/// A city the Radar can search from.
#[derive(Debug, Clone, Deserialize)]
pub struct City {
    pub slug: String,
    pub name: String,
    pub lat: f64,
    pub lon: f64,
}

#[derive(Deserialize)]
struct PlaceFixture {
    name: String,
    address: String,
    city: String,
    lat: f64,
    lon: f64,
    description: String,
}

static PLACES: LazyLock<PlacesFixture> = LazyLock::new(|| {
    serde_json::from_str(include_str!("../fixtures/places.json"))
        .expect("fixtures/places.json is checked by a unit test")
});

pub fn cities() -> &'static [City] {
    &PLACES.cities
}

/// Seeds whatever is missing: the catalog into an empty products table, the places into an
/// empty places table. Safe to run on every start and from several instances at once.
pub async fn seed_if_empty(db: &Db, storage: &Storage) -> anyhow::Result<()> {
    if db.product_count().await? == 0 {
        seed_catalog(db, storage).await?;
    }
    if db.place_count().await? == 0 {
        seed_places(db).await?;
    }
    Ok(())
}

async fn seed_catalog(db: &Db, storage: &Storage) -> anyhow::Result<()> {
    let catalog: CatalogFixture = serde_json::from_str(include_str!("../fixtures/catalog.json"))?;
    let mut products = Vec::with_capacity(catalog.products.len());
    for product in &catalog.products {
        let image_key = store_picture(storage, &product.image).await?;
        let mut color_images = Vec::with_capacity(product.color_images.len());
        for (color, image) in &product.color_images {
            if let Some(key) = store_picture(storage, image).await? {
                color_images.push((color.clone(), key));
            }
        }
        products.push(SeedProduct {
            slug: &product.slug,
            name: &product.name,
            description: &product.description,
            category: &product.category,
            price_cents: product.price_cents,
            image_key,
            color_images,
            variants: &product.variants,
        });
    }
    if !db.seed_catalog(&products).await? {
        // Another instance seeded the catalog first.
        return Ok(());
    }
    tracing::info!(products = catalog.products.len(), "demo catalog loaded");
    Ok(())
}

/// Stores the demo picture `name` (a static file); its key, or `None` when there is no
/// such file.
async fn store_picture(storage: &Storage, name: &str) -> anyhow::Result<Option<String>> {
    match crate::assets::bytes(name) {
        Some(bytes) => Ok(Some(
            storage
                .put_content_addressed("products", "svg", Bytes::from_static(bytes))
                .await?,
        )),
        None => Ok(None),
    }
}

async fn seed_places(db: &Db) -> anyhow::Result<()> {
    for (id, place) in (1_i64..).zip(&PLACES.places) {
        let row = PlaceRow {
            id,
            name: place.name.clone(),
            address: place.address.clone(),
            city: place.city.clone(),
            lat: place.lat,
            lon: place.lon,
            description: place.description.clone(),
        };
        if let Err(error) = db.insert_place(&row).await {
            // Another instance seeded the places first.
            tracing::debug!(%error, "place already present");
            return Ok(());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixtures_parse_and_every_place_is_in_a_known_city() {
        let catalog: CatalogFixture =
            serde_json::from_str(include_str!("../fixtures/catalog.json")).unwrap();
        assert_eq!(catalog.products.len(), 5);
        for product in &catalog.products {
            for image in std::iter::once(&product.image).chain(product.color_images.values()) {
                assert!(crate::assets::bytes(image).is_some(), "{image}");
            }
            for color in product.color_images.keys() {
                assert!(
                    product.variants.iter().any(|v| &v.color == color),
                    "{} has no {color} variant",
                    product.slug
                );
            }
        }
        for place in &PLACES.places {
            assert!(
                cities().iter().any(|c| c.name == place.city),
                "{}",
                place.city
            );
        }
    }
}
