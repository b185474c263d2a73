//! Test support: a fresh PostgreSQL database per test, so parallel test runs never share data.
//! The server comes from `SAKER_TEST_PG_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`); the database is dropped when the guard is.

use std::sync::atomic::{AtomicU32, Ordering};

use sqlx::{AssertSqlSafe, Connection, PgConnection};

/// The variable naming the PostgreSQL server tests use.
pub const PG_URL_VAR: &str = "SAKER_TEST_PG_URL";

/// The server tests use when [`PG_URL_VAR`] is not set (the local one, trust auth).
pub const DEFAULT_PG_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// The administration URL: [`PG_URL_VAR`] or the local server.
pub fn admin_url() -> String {
    std::env::var(PG_URL_VAR).unwrap_or_else(|_| DEFAULT_PG_URL.to_owned())
}

/// `url` with its database replaced by `database` (query parameters kept).
pub fn with_database(url: &str, database: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    // The path starts at the first `/` after the authority.
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let path_start = base[authority_start..]
        .find('/')
        .map_or(base.len(), |i| authority_start + i);
    let mut out = format!("{}/{database}", &base[..path_start]);
    if let Some(query) = query {
        out.push('?');
        out.push_str(query);
    }
    out
}

/// A database created for one test, dropped (its connections terminated) with the guard.
pub struct TestDatabase {
    admin: String,
    name: String,
    url: String,
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

impl TestDatabase {
    /// Creates an empty database with a name unique to this process and call.
    pub async fn create() -> TestDatabase {
        let admin = admin_url();
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let name = format!(
            "saker_test_{}_{}_{nanos}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let mut conn = PgConnection::connect(&admin).await.unwrap_or_else(|e| {
            panic!(
                "cannot reach the test PostgreSQL server {admin} (set {PG_URL_VAR}; `.ci/run` \
                 starts the local one): {e}"
            )
        });
        sqlx::query(AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
            .execute(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("cannot create the test database {name}: {e}"));
        let _ = conn.close().await;
        let url = with_database(&admin, &name);
        TestDatabase { admin, name, url }
    }

    /// [`create`](Self::create) from synchronous code (not inside an async runtime).
    pub fn create_blocking() -> TestDatabase {
        blocking(TestDatabase::create())
    }

    /// The URL of the database.
    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The URL of the server's administration database.
    pub fn admin_url(&self) -> &str {
        &self.admin
    }
}

/// Runs a future to completion on a runtime of its own, on another thread, so it works from
/// synchronous code and from inside another runtime (e.g. in `Drop`).
fn blocking<T: Send + 'static>(future: impl Future<Output = T> + Send + 'static) -> T {
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime for the test database")
            .block_on(future)
    })
    .join()
    .expect("the test database thread")
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let admin = self.admin.clone();
        let name = self.name.clone();
        blocking(async move {
            if let Ok(mut conn) = PgConnection::connect(&admin).await {
                // FORCE ends the connections a store under test may still hold.
                let _ = sqlx::query(AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
                )))
                .execute(&mut conn)
                .await;
                let _ = conn.close().await;
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_database_of_a_url_is_replaced() {
        assert_eq!(
            with_database("postgres://u@h:5432/postgres", "t1"),
            "postgres://u@h:5432/t1"
        );
        assert_eq!(
            with_database("postgres://u:p@h/postgres?sslmode=disable", "t1"),
            "postgres://u:p@h/t1?sslmode=disable"
        );
        assert_eq!(with_database("postgres://h", "t1"), "postgres://h/t1");
    }
}
