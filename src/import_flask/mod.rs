//! `coffee-radar import-flask`: brings the users, orders and profile pictures of the
//! original Flask shop (its MySQL `users_table` and `order_table`) into this shop.
//!
//! The import is safe to run again: accounts and orders already here are recognised and
//! left alone. Bad rows are reported in the summary and skipped; the import never stops
//! half-way because of the data. Each order is written in a transaction of its own.

mod catalog;
mod orders;
mod photos;
mod summary;
mod users;

use indicatif::{ProgressBar, ProgressStyle};

use crate::config::ImportFlaskSettings;
use crate::db::Db;
use crate::storage::Storage;

pub use summary::ImportSummary;

use crate::db::flask_source::FlaskSource;
use photos::PhotoSource;

pub async fn run(
    db: &Db,
    storage: &Storage,
    settings: &ImportFlaskSettings,
) -> anyhow::Result<ImportSummary> {
    // A wrong --photos-url is a mistake in the command, not in the data: say so before
    // anything is written.
    let photos = settings
        .photos_url
        .as_deref()
        .map(PhotoSource::from_url)
        .transpose()?;
    let source = FlaskSource::connect(&settings.from).await?;
    let flask_users = source.users().await?;
    let order_groups = orders::group_by_code(source.order_rows().await?);
    source.close().await;

    let mut summary = ImportSummary::default();
    let progress = progress_bar(flask_users.len() + order_groups.len());

    progress.set_message("users");
    let accounts = users::import_users(
        db,
        storage,
        photos.as_ref(),
        flask_users,
        &mut summary,
        &progress,
    )
    .await?;

    progress.set_message("orders");
    let new_orders = orders::select_new_orders(db, order_groups, &mut summary, &progress).await?;
    let catalog = catalog::prepare(db, &new_orders, &mut summary).await?;
    orders::import_orders(db, &catalog, &accounts, new_orders, &mut summary, &progress).await?;

    progress.finish_and_clear();
    Ok(summary)
}

/// One bar over the users, then the orders. indicatif draws it on stderr, and not at all
/// when stderr is not a terminal (a pipe, a log file, a test).
fn progress_bar(steps: usize) -> ProgressBar {
    let bar = ProgressBar::new(u64::try_from(steps).unwrap_or(u64::MAX));
    if let Ok(style) = ProgressStyle::with_template("Importing {msg:6} [{bar:40}] {pos}/{len}") {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}
