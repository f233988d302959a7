//! Where the SQL state lives: SQLite under the data dir (the default: one
//! process, nothing else to run), or a PostgreSQL server that several
//! nodes share (`postgres://user:password@host/db`). One schema and one set
//! of queries serve both, through sqlx's `Any` driver: the SQL is kept to
//! what both run (`$n` parameters, `ON CONFLICT`, BIGINT times), and so is
//! the schema (`migrations/`); PostgreSQL adds what SQLite has built in
//! (`migrations-postgres/`).

use std::str::FromStr;

use sqlx::migrate::Migrator;

/// The database's location, parsed once from the command line.
#[derive(Clone, Default, PartialEq, Eq)]
pub enum DatabaseLocation {
    /// `vigil.db` in the data dir.
    #[default]
    Sqlite,
    /// A PostgreSQL connection URL (it may hold a password).
    Postgres(String),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a database is `sqlite` or `postgres://user[:password]@host[:port]/database`, not {0:?}")]
pub struct DatabaseLocationError(String);

impl FromStr for DatabaseLocation {
    type Err = DatabaseLocationError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s == "sqlite" {
            Ok(DatabaseLocation::Sqlite)
        } else if (s.starts_with("postgres://") || s.starts_with("postgresql://")) && s.len() > "postgres://".len() {
            Ok(DatabaseLocation::Postgres(s.to_owned()))
        } else {
            // Not echoed whole: it may be a URL with a password in it.
            Err(DatabaseLocationError(s.split("://").next().unwrap_or_default().chars().take(20).collect()))
        }
    }
}

/// Never prints a password.
impl std::fmt::Debug for DatabaseLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.kind())
    }
}

impl DatabaseLocation {
    /// `sqlite` or `postgres`, for health reports and logs.
    pub fn kind(&self) -> &'static str {
        match self {
            DatabaseLocation::Sqlite => "sqlite",
            DatabaseLocation::Postgres(_) => "postgres",
        }
    }
}

/// PostgreSQL's own migrations, numbered among the shared ones.
static POSTGRES_ONLY: Migrator = sqlx::migrate!("./migrations-postgres");

/// The shared schema and PostgreSQL's additions, in version order.
pub(crate) fn postgres_migrations() -> Migrator {
    Migrator::with_migrations(crate::SHARED_MIGRATIONS.iter().chain(POSTGRES_ONLY.iter()).cloned().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_parse_and_never_print_a_password() {
        assert_eq!("sqlite".parse::<DatabaseLocation>().unwrap(), DatabaseLocation::Sqlite);
        let pg: DatabaseLocation = "postgres://vigil:s3cret@db.example.org/vigil".parse().unwrap();
        assert_eq!(pg.kind(), "postgres");
        assert!(!format!("{pg:?}").contains("s3cret"));
        assert!("postgresql://localhost/vigil".parse::<DatabaseLocation>().is_ok());
        let refused = "mysql://root:hunter2@x/db".parse::<DatabaseLocation>().unwrap_err();
        assert!(!refused.to_string().contains("hunter2"), "{refused}");
        assert!("postgres://".parse::<DatabaseLocation>().is_err());
    }

    /// PostgreSQL's additions take version numbers the shared schema does
    /// not use (the next shared migration skips them), and come in order.
    #[test]
    fn postgres_migrations_are_the_shared_ones_and_its_own() {
        let shared: Vec<i64> = crate::SHARED_MIGRATIONS.iter().map(|m| m.version).collect();
        let own: Vec<i64> = POSTGRES_ONLY.iter().map(|m| m.version).collect();
        assert!(own.iter().all(|v| !shared.contains(v)), "{own:?} collides with {shared:?}");
        let all: Vec<i64> = postgres_migrations().iter().map(|m| m.version).collect();
        let mut sorted = all.clone();
        sorted.sort();
        assert_eq!(all, sorted);
        assert_eq!(all.len(), shared.len() + own.len());
    }
}
