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
    assert_eq!(versions, vec![1, 2, 3]);
    drop((a, b));
}

/// Rows of workers gone for long are deleted at a live worker's heartbeat; recent ones stay
/// (listed as dead by `live_workers` meanwhile).
#[tokio::test]
async fn workers_gone_for_long_are_forgotten() {
    use saker_runtime::queue::WorkerInfo;
    use std::time::Duration;

    let db = TestDb::create("queue_workers")
        .await
        .expect("test database");
    let queue = PgQueue::connect(db.url(), 2)
        .await
        .expect("queue")
        .forgetting_workers_after(Duration::from_secs(3600));
    for (id, age) in [("long-gone", "2 hours"), ("recently-gone", "10 minutes")] {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO saker_workers (id, hostname, threads, heartbeat_at) \
             VALUES ('{id}', 'h', 1, now() - interval '{age}')"
        )))
        .execute(queue.pool())
        .await
        .unwrap();
    }
    let live = WorkerInfo {
        id: "live".into(),
        hostname: "h".into(),
        threads: 2,
        heartbeat_at: 0,
    };
    queue.worker_alive(&live).await.unwrap();
    let ids: Vec<String> = sqlx::query_scalar("SELECT id FROM saker_workers ORDER BY id")
        .fetch_all(queue.pool())
        .await
        .unwrap();
    assert_eq!(ids, ["live", "recently-gone"]);
    let listed = queue.live_workers(Duration::from_secs(60)).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].id, "live");
}

mod inbox {
    use std::sync::Arc;

    use saker_runtime::Runtime;
    use saker_runtime::inbox::ExecutorQueue;
    use saker_task::memory::{MemoryKvStore, MemoryStorage};

    use crate::PgInbox;
    use crate::testdb::TestDb;

    async fn fresh() -> Arc<dyn ExecutorQueue> {
        let db = TestDb::create("inbox").await.expect("test database");
        let inbox = PgInbox::connect(db.url(), 8).await.expect("inbox");
        Arc::new(inbox.keeping(db))
    }

    saker_runtime::inbox_suite!(fresh().await);

    /// Two executors on one PostgreSQL store and inbox (see the scenario's documentation).
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn two_executors_on_postgres() {
        let (rt, inbox) = cluster_runtime("cluster").await;
        saker_runtime::inbox::suite::two_executors(rt, inbox).await;
    }

    async fn cluster_runtime(
        name: &str,
    ) -> (Runtime<saker_store_sql::SqlStore>, Arc<dyn ExecutorQueue>) {
        let db = TestDb::create(name).await.expect("test database");
        let store = saker_store_sql::open(db.url()).await.expect("store");
        let inbox = PgInbox::connect(db.url(), 8).await.expect("inbox");
        let rt = Runtime::new(
            store,
            Arc::new(MemoryStorage::new()),
            Arc::new(MemoryKvStore::new()),
        );
        (rt, Arc::new(inbox.keeping(db)))
    }

    /// Flow concurrency limits hold across executors on PostgreSQL.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrency_limits_are_global_on_postgres() {
        let (rt, inbox) = cluster_runtime("cluster_concurrency").await;
        saker_runtime::inbox::suite::global_concurrency(rt, inbox).await;
    }

    /// Controls survive the death of the executor that claimed them, on PostgreSQL.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn controls_survive_a_take_over_on_postgres() {
        let (rt, inbox) = cluster_runtime("cluster_controls").await;
        saker_runtime::inbox::suite::controls_survive_a_take_over(rt, inbox).await;
    }

    /// A Subflow child its dead executor never saved is started by the executor taking over,
    /// on PostgreSQL.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn a_child_never_saved_is_started_after_a_take_over_on_postgres() {
        let (rt, inbox) = cluster_runtime("cluster_lost_child").await;
        saker_runtime::inbox::suite::a_child_never_saved_is_started_after_a_take_over(rt, inbox)
            .await;
    }

    /// The same with the attempts on a PostgreSQL job queue run by a worker loop: each
    /// executor takes the reports of the executions it owns, the new owner those of the
    /// executions it took over.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn two_executors_and_queue_workers_on_postgres() {
        use saker_runtime::queue::{JobQueue, WorkerConfig, run_worker};
        let db = TestDb::create("cluster_queue")
            .await
            .expect("test database");
        let store = saker_store_sql::open(db.url()).await.expect("store");
        let queue: Arc<dyn JobQueue> =
            Arc::new(crate::PgQueue::connect(db.url(), 8).await.expect("queue"));
        let inbox = PgInbox::connect(db.url(), 8).await.expect("inbox");
        let rt = Runtime::new(
            store,
            Arc::new(MemoryStorage::new()),
            Arc::new(MemoryKvStore::new()),
        )
        .with_queue(queue.clone());
        let stop = tokio_util::sync::CancellationToken::new();
        let worker = tokio::spawn(run_worker(
            rt.clone(),
            queue.clone(),
            // Enough threads for every Sleep of the scenario at once.
            WorkerConfig::new(48),
            stop.clone(),
        ));
        saker_runtime::inbox::suite::two_executors(rt, Arc::new(inbox)).await;
        stop.cancel();
        worker.await.expect("worker").expect("worker loop");
        assert_eq!(queue.depth().await.expect("depth"), (0, 0));
        drop(queue);
        drop(db);
    }
}
