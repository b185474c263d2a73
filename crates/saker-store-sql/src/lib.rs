//! saker-store-sql: the SQL backends of [`saker_storage::Store`] and [`saker_task::KvStore`].
//!
//! - [`SqliteStore`]: the embedded store (`saker server local`): one SQLite file in WAL mode,
//!   schema migrations embedded in the binary (`migrations/sqlite/`).
//! - [`sql`]: the SQL text and query builders, written once for SQLite and PostgreSQL (`$N`
//!   placeholders, `ON CONFLICT`, `RETURNING`); only DDL, the JSON label filter and transaction
//!   start differ per dialect.
//! - [`codec`]: how values map to columns (instants as BIGINT nanoseconds, JSON as text).
//!
//! Layout: an execution is a header row (its JSON without task runs, plus the searched columns)
//! and one row per task run, so saving an execution writes the header and only the runs that
//! changed, in one transaction.

pub mod codec;
mod kv;
pub mod sql;
mod sqlite;

pub use sqlite::{SqliteStore, schema_version};

#[cfg(test)]
mod suite {
    use super::SqliteStore;

    mod memory {
        use super::SqliteStore;
        saker_storage::store_suite!(async { SqliteStore::memory().await.unwrap() });
        saker_storage::kv_suite!(async { SqliteStore::memory().await.unwrap() });
    }

    /// The same suites on files, so the reader/writer split (separate connections) is covered.
    mod file {
        use super::SqliteStore;

        async fn store() -> (tempfile::TempDir, SqliteStore) {
            let dir = tempfile::tempdir().unwrap();
            let store = SqliteStore::open(dir.path().join("saker.db"))
                .await
                .unwrap();
            (dir, store)
        }

        saker_storage::store_suite!(guarded store());
        saker_storage::kv_suite!(guarded store());
    }
}
