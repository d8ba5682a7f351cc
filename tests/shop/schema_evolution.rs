//! Two releases share one database during a rolling upgrade (docs/upgrades.md): the next
//! release migrates it while instances of the previous one still serve. So every response
//! names its release, an instance of the previous release starts on a schema a newer one
//! migrated, and the migrations since the last release keep every table and column that
//! release reads: they are applied to a real database (SQLite, or the server of
//! TEST_DATABASE_URL) after the released ones, and the schemas before and after compared.

use std::collections::BTreeMap;
use std::path::Path;

use coffee_radar::db::{Backend, Db, PoolSettings};
use reqwest::StatusCode;
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::{AnyPool, AssertSqlSafe, SqlSafeStr};

use crate::common::{TestApp, test_database_url};

const REPO: &str = env!("CARGO_MANIFEST_DIR");

#[tokio::test]
async fn every_response_names_the_release_that_answered() {
    let app = TestApp::spawn().await;
    for path in ["/healthz", "/", "/api/v1/products"] {
        let response = app.client().get(app.url(path)).send().await.unwrap();
        assert_eq!(
            response.headers()["x-app-version"],
            env!("CARGO_PKG_VERSION"),
            "{path}: a released build names its version, without the rehearsal's suffix"
        );
    }
}

#[tokio::test]
async fn an_instance_of_the_previous_release_starts_on_a_schema_the_next_one_migrated() {
    let first = TestApp::spawn().await;
    // The next release (the rehearsal's) has migrated the shared database...
    let mut next = released_and_new().await.all;
    next.extend(migrations_in("deploy/rehearsal").await);
    Migrator::with_migrations(next)
        .run(first.db.pool().inner())
        .await
        .expect("the rehearsal's migration applies");
    // ...and an instance of this release starts on it, as one restarted mid-upgrade or
    // in a rollback would.
    let dir = tempfile::tempdir().unwrap();
    let again = TestApp::start(dir, first.database_url.clone(), &[]).await;
    let ready = again
        .client()
        .get(again.url("/readyz"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        ready.status(),
        StatusCode::OK,
        "a migration it does not know is no reason to refuse to serve: {}",
        ready.text().await.unwrap()
    );
}

#[tokio::test]
async fn the_migrations_since_the_last_release_keep_what_it_reads() {
    let migrations = released_and_new().await;
    let problems = check(&migrations.released, migrations.all).await;
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[tokio::test]
async fn the_rehearsal_migration_is_expand_only() {
    let migrations = released_and_new().await;
    let mut next = migrations.all;
    next.extend(migrations_in("deploy/rehearsal").await);
    let problems = check(&migrations.released, next).await;
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[tokio::test]
async fn a_renamed_column_the_previous_release_reads_fails_the_check() {
    fails_the_check(
        "ALTER TABLE orders RENAME COLUMN status TO state",
        &["orders.status", "gone"],
    )
    .await;
}

#[tokio::test]
async fn a_dropped_table_the_previous_release_reads_fails_the_check() {
    fails_the_check("DROP TABLE rate_limits", &["rate_limits.", "gone"]).await;
}

#[tokio::test]
async fn a_contract_of_something_the_previous_release_still_names_fails_the_check() {
    fails_the_check(
        "-- contract: rate_limits\nDROP TABLE rate_limits",
        &["rate_limits", "still names"],
    )
    .await;
}

/// The check, with `sql` as the next release's one new migration, reports a problem whose
/// text has each of `words`.
async fn fails_the_check(sql: &str, words: &[&str]) {
    let problems = check_with(sql).await;
    assert!(
        problems.iter().any(|p| words.iter().all(|w| p.contains(w))),
        "expected a problem naming {words:?}, got {problems:?}"
    );
}

// --- the check ---------------------------------------------------------------------------

/// The migrations of the release in production (deploy/previous-release.txt) and all of
/// this tree's.
struct Migrations {
    released: Vec<Migration>,
    all: Vec<Migration>,
}

async fn released_and_new() -> Migrations {
    let release = PreviousRelease::read();
    let all = migrations_in("migrations").await;
    let released: Vec<Migration> = all
        .iter()
        .filter(|m| m.version <= release.last_migration)
        .cloned()
        .collect();
    assert!(
        released.iter().any(|m| m.version == release.last_migration),
        "deploy/previous-release.txt names migration {}, which migrations/ lacks",
        release.last_migration
    );
    Migrations { released, all }
}

async fn migrations_in(dir: &str) -> Vec<Migration> {
    Migrator::new(Path::new(REPO).join(dir))
        .await
        .unwrap_or_else(|e| panic!("{dir}: {e}"))
        .migrations
        .into_owned()
}

/// The check with one more migration, as the next release would add it.
async fn check_with(sql: &str) -> Vec<String> {
    let migrations = released_and_new().await;
    let mut next = migrations.all;
    next.push(Migration::new(
        99990301000001,
        "trial".into(),
        MigrationType::Simple,
        AssertSqlSafe(sql.to_owned()).into_sql_str(),
        false,
    ));
    check(&migrations.released, next).await
}

/// Applies `released` to a fresh database, then `next` (which starts with them), and tells
/// what the previous release would no longer find as it left it: a table or column gone,
/// a column of another type or newly NOT NULL, or a new NOT NULL column without a default
/// in one of its tables (its inserts do not name it). A contract migration's
/// `-- contract: table[.column]` lines excuse what they name once the previous release's
/// code no longer names it.
async fn check(released: &[Migration], next: Vec<Migration>) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let url = test_database_url(&dir).await;
    let db = Db::open(&url, &PoolSettings::from_settings(&default_settings())).unwrap();
    let pool = db.pool().inner();
    let new: Vec<Migration> = next
        .iter()
        .filter(|m| !released.iter().any(|r| r.version == m.version))
        .cloned()
        .collect();
    Migrator::with_migrations(released.to_vec())
        .run(pool)
        .await
        .expect("the released migrations apply");
    let before = schema(pool, db.backend()).await;
    Migrator::with_migrations(next)
        .run(pool)
        .await
        .expect("the new migrations apply after the released ones");
    let after = schema(pool, db.backend()).await;
    let contracted = contracted(&new);
    let excused = |table: &str, column: &str| {
        contracted.contains(&table.to_owned()) || contracted.contains(&format!("{table}.{column}"))
    };

    let mut problems = still_named_by_the_previous_release(&contracted);
    for ((table, column), was) in &before {
        if excused(table, column) {
            continue;
        }
        let name = format!("{table}.{column}");
        match after.get(&(table.clone(), column.clone())) {
            None => problems.push(format!(
                "{name} is gone, and the previous release reads it: drop or rename only in a \
                 contract migration, a release after the last one that reads it"
            )),
            Some(now) if now.data_type != was.data_type => problems.push(format!(
                "{name} changed type ({} to {}) while the previous release uses it",
                was.data_type, now.data_type
            )),
            Some(now) if was.nullable && !now.nullable => problems.push(format!(
                "{name} became NOT NULL, and the previous release may leave it empty"
            )),
            Some(_) => {}
        }
    }
    let released_tables: Vec<&String> = before.keys().map(|(table, _)| table).collect();
    for ((table, column), now) in &after {
        let added = !before.contains_key(&(table.clone(), column.clone()));
        if added && released_tables.contains(&table) && !now.nullable && !now.has_default {
            problems.push(format!(
                "{table}.{column} is new, NOT NULL and without a default: the previous \
                 release's inserts into {table} do not name it"
            ));
        }
    }
    problems
}

fn default_settings() -> coffee_radar::config::CommonSettings {
    use clap::Parser;
    coffee_radar::config::Cli::parse_from(["coffee-radar"]).common
}

/// What the new migrations say they contract: `-- contract: table` or `table.column`.
fn contracted(new: &[Migration]) -> Vec<String> {
    new.iter()
        .flat_map(|m| m.sql.as_str().lines())
        .filter_map(|line| line.trim().strip_prefix("-- contract:"))
        .flat_map(|names| names.split(',').map(|n| n.trim().to_owned()))
        .filter(|n| !n.is_empty())
        .collect()
}

/// Contracted names that the previous release's code (its commit in
/// deploy/previous-release.txt) still has in its source: that release still reads them.
fn still_named_by_the_previous_release(contracted: &[String]) -> Vec<String> {
    if contracted.is_empty() {
        return Vec::new();
    }
    let commit = PreviousRelease::read().commit;
    contracted
        .iter()
        .filter_map(|name| {
            let word = name.rsplit('.').next().unwrap_or(name);
            let grep = std::process::Command::new("git")
                .args(["-C", REPO, "grep", "-q", "-w", word, &commit, "--", "src"])
                .status();
            match grep.map(|status| status.code()) {
                Ok(Some(1)) => None,
                Ok(Some(0)) => Some(format!(
                    "{name} is contracted, but the previous release ({commit}) still names \
                     {word} in its code: contract it a release later"
                )),
                other => Some(format!(
                    "{name} is contracted, and the previous release's code could not be \
                     searched (git grep at {commit}: {other:?})"
                )),
            }
        })
        .collect()
}

struct PreviousRelease {
    last_migration: i64,
    commit: String,
}

impl PreviousRelease {
    fn read() -> Self {
        let text = std::fs::read_to_string(Path::new(REPO).join("deploy/previous-release.txt"))
            .expect("deploy/previous-release.txt");
        let value = |key: &str| {
            text.lines()
                .filter_map(|line| line.split_once('='))
                .find(|(k, _)| k.trim() == key)
                .map(|(_, v)| v.trim().to_owned())
                .unwrap_or_else(|| panic!("deploy/previous-release.txt names no {key}"))
        };
        Self {
            last_migration: value("last_migration").parse().expect("a migration number"),
            commit: value("commit"),
        }
    }
}

#[derive(Debug)]
struct Column {
    data_type: String,
    nullable: bool,
    has_default: bool,
}

/// Every column of every table but the migrator's own, by (table, column).
async fn schema(pool: &AnyPool, backend: Backend) -> BTreeMap<(String, String), Column> {
    let sql = match backend {
        Backend::Sqlite => {
            "SELECT m.name, p.name, lower(p.type), CASE WHEN p.\"notnull\" = 0 THEN 1 ELSE 0 END, \
             CASE WHEN p.dflt_value IS NULL THEN 0 ELSE 1 END \
             FROM sqlite_master m JOIN pragma_table_info(m.name) p \
             WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND m.name <> '_sqlx_migrations'"
        }
        Backend::Postgres => {
            "SELECT table_name::text, column_name::text, data_type::text, \
             (CASE WHEN is_nullable = 'YES' THEN 1 ELSE 0 END)::bigint, \
             (CASE WHEN column_default IS NULL THEN 0 ELSE 1 END)::bigint \
             FROM information_schema.columns \
             WHERE table_schema = current_schema() AND table_name <> '_sqlx_migrations'"
        }
        Backend::MySql => {
            "SELECT CAST(table_name AS CHAR), CAST(column_name AS CHAR), CAST(data_type AS CHAR), \
             CASE WHEN is_nullable = 'YES' THEN 1 ELSE 0 END, \
             CASE WHEN column_default IS NULL THEN 0 ELSE 1 END \
             FROM information_schema.columns \
             WHERE table_schema = DATABASE() AND table_name <> '_sqlx_migrations'"
        }
    };
    let rows: Vec<(String, String, String, i64, i64)> =
        sqlx::query_as(sql).fetch_all(pool).await.unwrap();
    assert!(!rows.is_empty(), "the schema has columns");
    rows.into_iter()
        .map(|(table, column, data_type, nullable, has_default)| {
            let column_info = Column {
                data_type,
                nullable: nullable == 1,
                has_default: has_default == 1,
            };
            ((table, column), column_info)
        })
        .collect()
}
