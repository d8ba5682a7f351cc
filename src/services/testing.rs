//! A shop for the services' own tests: a fresh SQLite file, an in-memory object store, an
//! outbox in a temporary folder, and one product with one variant.

use std::time::Duration;

use tempfile::TempDir;

use super::accounts::{self, Registration};
use super::catalog::CatalogCache;
use super::{ServiceSettings, Services};
use crate::config::ServeSettings;
use crate::db::catalog::{ProductInput, VariantInput};
use crate::db::users::UserRow;
use crate::db::{Db, PoolSettings};
use crate::domain::Cents;
use crate::domain::pricing::{Pricing, TaxPolicy};
use crate::domain::product::{Slug, Visibility};
use crate::events::EventSink;
use crate::mail::Mailer;
use crate::pictures::Pictures;
use crate::storage::{S3Settings, Storage};

pub struct TestShop {
    pub services: Services,
    pub db: Db,
    /// The one variant on sale.
    pub variant_id: i64,
    _dir: TempDir,
}

impl TestShop {
    /// A shop whose one variant has `stock` in stock, at $12.50.
    pub async fn with_stock(stock: i64) -> Self {
        let dir = tempfile::tempdir().expect("temporary folder");
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("shop.db").display());
        let db = Db::open(
            &url,
            &PoolSettings {
                max_connections: 4,
                acquire_timeout: Duration::from_secs(5),
                statement_timeout: Duration::ZERO,
                call_timeout: Duration::ZERO,
                migration_lock_wait: Duration::from_secs(5),
                sqlite_busy_timeout: Duration::from_secs(5),
                sqlite_checkpoint_every: Duration::from_millis(100),
                check_idle_after: Duration::ZERO,
                password_command: None,
            },
        )
        .expect("database");
        db.migrate().await.expect("migrations");
        let serve = ServeSettings::defaults();
        let services = Services::new(
            db.clone(),
            Storage::from_url("memory://", &S3Settings::default()).expect("store"),
            Mailer::new(&serve.mail, dir.path().join("outbox")).expect("mailer"),
            EventSink::start(db.clone()),
            Pictures::new(&serve.pictures),
            CatalogCache::new(Duration::from_secs(1)),
            ServiceSettings {
                public_url: "http://shop.test".into(),
                limits: serve.limits.clone(),
                guest_session_secs: 3600,
                session_secs: 3600,
                reset_link_secs: 1800,
                pricing: Pricing {
                    tax: TaxPolicy {
                        rate_bp: 0,
                        prices_include_tax: true,
                    },
                    free_delivery_from: Some(Cents::new(5000)),
                },
            },
        );
        let slug = Slug::from_name("Radar mug").expect("a slug");
        let product_id = db
            .create_product(&ProductInput {
                name: "Radar mug",
                slug: &slug,
                description: "A mug.",
                category: "mugs",
                price: Cents::new(1250),
                visibility: Visibility::Shown,
            })
            .await
            .expect("product");
        let variant_id = db
            .create_variant(
                product_id,
                &VariantInput {
                    color: "Black",
                    size: "U",
                    price: None,
                    stock,
                    visibility: Visibility::Shown,
                },
            )
            .await
            .expect("variant");
        Self {
            services,
            db,
            variant_id,
            _dir: dir,
        }
    }

    /// A registered shopper with a shipping address.
    pub async fn shopper(&self, username: &str) -> UserRow {
        accounts::register(
            &self.services,
            &Registration {
                username: username.into(),
                email: format!("{username}@example.com"),
                password: "correct horse 42".into(),
                first_name: "Test".into(),
                address: Some("1 Coffee Street, Madrid".into()),
            },
            None,
        )
        .await
        .expect("registration")
    }

    /// What the variant has in stock now.
    pub async fn stock(&self) -> i64 {
        self.db
            .variant_by_id(self.variant_id)
            .await
            .expect("variant read")
            .expect("variant exists")
            .stock
    }
}
