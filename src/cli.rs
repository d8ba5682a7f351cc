//! The commands of the `coffee-radar` binary.

use crate::app::Application;
use crate::config::{AdminAction, AssetsAction, Cli, Command, CommonSettings, ServeSettings};
use crate::db::{Db, PoolSettings};
use crate::domain::Role;
use crate::error::AppError;
use crate::storage::Storage;

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let common = cli.common;
    match cli.command {
        None => serve(&common, &ServeSettings::defaults()).await,
        Some(Command::Serve(settings)) => serve(&common, &settings).await,
        Some(Command::Migrate) => {
            open_db(&common)?.migrate().await?;
            println!("Database is up to date.");
            Ok(())
        }
        Some(Command::Seed) => {
            let db = open_db(&common)?;
            db.migrate().await?;
            let configured = std::env::var("STORAGE_URL").ok();
            let storage = Storage::open(&common, configured.as_deref())?;
            crate::catalog_seed::seed_if_empty(&db, &storage).await?;
            println!("Demo catalog and coffee places are loaded.");
            Ok(())
        }
        Some(Command::ImportFlask(settings)) => {
            let db = open_db(&common)?;
            db.migrate().await?;
            let storage = Storage::open(&common, settings.storage_url.as_deref())?;
            let summary = crate::import_flask::run(&db, &storage, &settings).await?;
            println!("{summary}");
            Ok(())
        }
        Some(Command::Export { to }) => {
            let db = open_db(&common)?;
            let storage = Storage::open(&common, to.as_deref())?;
            let summary = crate::export::run(&db, &storage).await?;
            println!("{summary}");
            Ok(())
        }
        Some(Command::Assets {
            action: AssetsAction::Publish { to },
        }) => {
            let storage = Storage::open(&common, to.as_deref())?;
            let count = crate::assets::publish(&storage).await?;
            println!(
                "Published {count} static files to {}/static/.",
                storage.description()
            );
            Ok(())
        }
        Some(Command::Admin { action }) => {
            let db = open_db(&common)?;
            let (username, role, done) = match &action {
                AdminAction::Grant { username } => (username, Role::Admin, "is now an admin"),
                AdminAction::Revoke { username } => {
                    (username, Role::Shopper, "is no longer an admin")
                }
            };
            let username = username.trim().to_lowercase();
            match db.set_role(&username, role).await {
                Ok(()) => {
                    println!("{username} {done}.");
                    Ok(())
                }
                Err(AppError::NotFound(message)) => {
                    anyhow::bail!("{message} Register the account first.")
                }
                Err(other) => Err(other.into()),
            }
        }
    }
}

async fn serve(common: &CommonSettings, settings: &ServeSettings) -> anyhow::Result<()> {
    let app = Application::build(common, settings).await?;
    app.run_until_stopped().await
}

fn open_db(common: &CommonSettings) -> anyhow::Result<Db> {
    let settings = PoolSettings {
        max_connections: 2,
        ..PoolSettings::from_settings(common)
    };
    Db::open(&common.database_url(), &settings)
}
