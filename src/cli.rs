//! The commands of the `coffee-radar` binary.

use std::time::Duration;

use crate::app::Application;
use crate::config::{AdminAction, Cli, Command, CommonSettings, ServeSettings};
use crate::db::users::Role;
use crate::db::{Db, PoolSettings};
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
            let dir = std::path::absolute(common.data_dir.join("objects"))?;
            let storage_url = std::env::var("STORAGE_URL")
                .unwrap_or_else(|_| format!("file://{}", dir.display()));
            crate::catalog_seed::seed_if_empty(&db, &Storage::from_url(&storage_url)?).await?;
            println!("Demo catalog and coffee places are loaded.");
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
    Db::open(
        &common.database_url(),
        &PoolSettings {
            max_connections: 2,
            acquire_timeout: Duration::from_millis(common.database_acquire_timeout_ms),
        },
    )
}
