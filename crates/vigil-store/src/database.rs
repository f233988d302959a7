//! Where the SQL state lives: SQLite under the data dir (the default: one
//! process, nothing else to run), or a PostgreSQL server that several
//! nodes share (`postgres://user:password@host/db`). One schema and one set
//! of queries serve both, through sqlx's `Any` driver: the SQL is kept to
//! what both run (`$n` parameters, `ON CONFLICT`, BIGINT times); the two
//! migration sets differ only where one lacks what the other has
//! (`migrations/postgres/0013_row_order.sql`).

use std::str::FromStr;

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

    /// One schema: every SQLite migration is PostgreSQL's too, word for
    /// word (a new one goes into both folders); PostgreSQL has one of its
    /// own, for what SQLite has built in. Version numbers are shared, so
    /// the next migration of both is 0014.
    #[test]
    fn the_two_migration_sets_share_every_sqlite_migration() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
        let names = |dir: &str| -> Vec<String> {
            let mut v: Vec<String> = std::fs::read_dir(root.join(dir))
                .unwrap()
                .map(|e| e.unwrap().file_name().into_string().unwrap())
                .collect();
            v.sort();
            v
        };
        let (sqlite, postgres) = (names("sqlite"), names("postgres"));
        for name in &sqlite {
            let read = |dir: &str| std::fs::read(root.join(dir).join(name)).unwrap_or_default();
            assert_eq!(read("sqlite"), read("postgres"), "{name} differs or is missing from migrations/postgres");
        }
        let own: Vec<&String> = postgres.iter().filter(|n| !sqlite.contains(n)).collect();
        assert_eq!(own, ["0013_row_order.sql"]);
    }
}
