//! For tests of vigil and of what builds on it: the database a test's store
//! uses, chosen by the environment, so that one test suite runs against
//! SQLite and against PostgreSQL (scripts/test runs it both ways).

use std::path::Path;

use sqlx::Connection;

use crate::DatabaseLocation;

/// SQLite in `dir`; or, when `VIGIL_TEST_DATABASE` is a `postgres://` URL
/// (a server and a database to connect to first), a database of the test's
/// own on that server, named after `dir`: reopening the same `dir` (a
/// restart within one test) reopens the same database.
///
/// Panics when the server cannot be reached: a test asked for it.
pub async fn database_for(dir: &Path) -> DatabaseLocation {
    let Ok(admin_url) = std::env::var("VIGIL_TEST_DATABASE") else {
        return DatabaseLocation::Sqlite;
    };
    if !admin_url.starts_with("postgres") {
        return DatabaseLocation::Sqlite;
    }
    let suffix: String = dir
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("store")
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '_' })
        .collect();
    let name = format!("vigil_test_{suffix}");
    let mut admin = sqlx::PgConnection::connect(&admin_url).await.expect("the test PostgreSQL server answers");
    // The name is made of [a-z0-9_] above.
    match sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&mut admin).await {
        Ok(_) => {}
        // Made by an earlier open of the same dir.
        Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("42P04") => {}
        Err(e) => panic!("creating the test database {name}: {e}"),
    }
    let _ = admin.close().await;
    let (server, _) = admin_url.rsplit_once('/').expect("a database in VIGIL_TEST_DATABASE");
    DatabaseLocation::Postgres(format!("{server}/{name}"))
}
