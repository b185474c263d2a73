use std::sync::Arc;

use saker_runtime::queue::JobQueue;

use crate::PgQueue;
use crate::testdb::TestDb;

/// A queue on a fresh database, dropped with the queue.
async fn fresh() -> Arc<dyn JobQueue> {
    let db = TestDb::create("queue").await.expect("test database");
    let queue = PgQueue::connect(db.url(), 8).await.expect("queue");
    Arc::new(queue.keeping(db))
}

saker_runtime::queue_suite!(fresh().await);

/// Two processes starting at once both find the tables migrated once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_migrations() {
    let db = TestDb::create("queue_migrate")
        .await
        .expect("test database");
    let (a, b) = tokio::join!(PgQueue::connect(db.url(), 2), PgQueue::connect(db.url(), 2));
    let (a, b) = (a.expect("first"), b.expect("second"));
    let versions: Vec<i32> = sqlx::query_scalar("SELECT version FROM _saker_queue_migrations")
        .fetch_all(a.pool())
        .await
        .expect("versions");
    assert_eq!(versions, vec![1]);
    drop((a, b));
}
