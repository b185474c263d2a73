//! saker-store-sql: the SQL backends of [`saker_storage::Store`] and [`saker_task::KvStore`].
//!
//! - [`SqliteStore`]: the embedded store (`saker server local`): one SQLite file in WAL mode,
//!   schema migrations embedded in the binary (`migrations/sqlite/`).
//! - [`PgStore`]: the PostgreSQL store, shared by several processes (`migrations/postgres/`,
//!   applied under an advisory lock).
//! - [`SqlStore`] and [`open`]: either one, chosen by a database URL (`sqlite://PATH`,
//!   `postgres://…`), so servers are not generic over the backend.
//! - [`sql`]: the SQL text and query builders, written once for SQLite and PostgreSQL (`$N`
//!   placeholders, `ON CONFLICT`, `RETURNING`); only DDL, the JSON label filter, transaction
//!   start and PostgreSQL's array-bound batch statements differ per dialect.
//! - [`flow_changes`]: the `NOTIFY` sent with every flow revision saved on PostgreSQL, and the
//!   listener other processes follow flow changes with.
//! - [`codec`]: how values map to columns (instants as BIGINT nanoseconds, JSON as text);
//!   `rows`: reading them back, the same code for both drivers.
//! - [`testing`]: a fresh PostgreSQL database per test (`SAKER_TEST_PG_URL`).
//!
//! Layout: an execution is a header row (its JSON without task runs, plus the searched columns)
//! and one row per task run, so saving an execution writes the header and only the runs that
//! changed, in one transaction.

pub mod codec;
pub mod flow_changes;
mod kv;
mod postgres;
mod rows;
mod select;
pub mod sql;
mod sqlite;
pub mod testing;

pub use flow_changes::FlowChange;
pub use postgres::{PgStore, PoolSettings, pg_schema_version};
pub use select::{SqlStore, open};
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

    /// The same suites on PostgreSQL, each test on a database of its own.
    mod postgres {
        use crate::PgStore;
        use crate::testing::TestDatabase;

        async fn store() -> (TestDatabase, PgStore) {
            let database = TestDatabase::create().await;
            let store = PgStore::connect(database.url()).await.unwrap();
            (database, store)
        }

        saker_storage::store_suite!(guarded store());
        saker_storage::kv_suite!(guarded store());
    }

    /// And through the enum a server uses (the delegation; `tests/postgres.rs` opens the
    /// PostgreSQL side by URL).
    mod selected {
        async fn sqlite() -> crate::SqlStore {
            (*crate::open("sqlite::memory:").await.unwrap()).clone()
        }

        saker_storage::store_suite!(sqlite());
        saker_storage::kv_suite!(sqlite());
    }
}
