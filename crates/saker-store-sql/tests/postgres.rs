//! The PostgreSQL store beyond the shared suite: what several processes on one database need
//! (migrations run at once, leases, revision numbers), atomic batches, and bad conditions
//! (connections killed, pool exhausted, a schema from a newer Saker). Each test runs on a
//! database of its own (`SAKER_TEST_PG_URL`, default the local server).

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{log, running};
use saker_core::{Label, StateType, TaskRun, TaskRunId};
use saker_storage::suite::at;
use saker_storage::{Changed, ExecutionQuery, LogFilter, Paging, Store, TriggerKey, TriggerRecord};
use saker_store_sql::testing::TestDatabase;
use saker_store_sql::{FlowChange, PgStore, SqlStore, open, pg_schema_version};
use saker_task::kv::{KvPut, KvStore, KvValue};
use sqlx::{Connection, PgConnection};

async fn raw(database: &TestDatabase) -> PgConnection {
    PgConnection::connect(database.url()).await.unwrap()
}

/// Polls `condition` (a query returning one boolean) until it holds; there is no notification
/// for "a backend is waiting on a lock", so this waits on the server's own view of it.
async fn wait_until(conn: &mut PgConnection, condition: &str, what: &str) {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let done: bool = sqlx::query_scalar(sqlx::AssertSqlSafe(condition.to_owned()))
            .fetch_one(&mut *conn)
            .await
            .unwrap();
        if done {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "never happened: {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// True when a session of `database` other than `conn` waits for a lock.
fn someone_waits_for_a_lock(database: &TestDatabase) -> String {
    format!(
        "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE datname = '{}' \
         AND wait_event_type = 'Lock' AND pid <> pg_backend_pid())",
        database.name()
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn processes_starting_together_apply_the_schema_once() {
    let database = TestDatabase::create().await;
    let starts: Vec<_> = (0..4)
        .map(|_| {
            let url = database.url().to_owned();
            tokio::spawn(async move { PgStore::connect(&url).await })
        })
        .collect();
    let mut stores = Vec::new();
    for start in starts {
        stores.push(start.await.unwrap().expect("every process starts"));
    }
    let mut conn = raw(&database).await;
    let applied: Vec<(i64, bool)> =
        sqlx::query_as("SELECT version, success FROM _sqlx_migrations ORDER BY version")
            .fetch_all(&mut conn)
            .await
            .unwrap();
    let expected: Vec<(i64, bool)> = (1..=pg_schema_version()).map(|v| (v, true)).collect();
    assert_eq!(applied, expected);
    // Every store works on the one schema.
    for (n, store) in stores.iter().enumerate() {
        store
            .put_flow("io.test", &format!("f{n}"), "id: f")
            .await
            .unwrap();
    }
    assert_eq!(stores[0].list_flows(None).await.unwrap().len(), 4);
    for store in &stores {
        store.close().await;
    }
}

#[tokio::test]
async fn a_database_from_a_newer_schema_is_refused() {
    let database = TestDatabase::create().await;
    PgStore::connect(database.url())
        .await
        .unwrap()
        .close()
        .await;
    let mut conn = raw(&database).await;
    let future = pg_schema_version() + 1;
    sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
         VALUES ($1, 'from the future', TRUE, '\\x00', 0)",
    )
    .bind(future)
    .execute(&mut conn)
    .await
    .unwrap();
    let error = PgStore::connect(database.url())
        .await
        .err()
        .unwrap()
        .to_string();
    assert!(error.contains(database.name()), "{error}");
    assert!(
        error.contains(&format!("schema version {future}")) && error.contains("newer Saker"),
        "{error}"
    );
}

#[tokio::test]
async fn unreachable_servers_and_bad_urls_are_reported() {
    // A port nothing listens on (the first free one the OS gives, closed again).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let error = open(&format!("postgres://postgres@127.0.0.1:{port}/saker"))
        .await
        .err()
        .unwrap()
        .to_string();
    assert!(
        error.contains(&format!("127.0.0.1:{port}")) && error.contains("cannot connect"),
        "{error}"
    );
    let error = open("mysql://h/db").await.err().unwrap().to_string();
    assert!(
        error.contains("mysql") && error.contains("postgres://"),
        "{error}"
    );
    let error = open("postgres://h/db?max_connections=none")
        .await
        .err()
        .unwrap()
        .to_string();
    assert!(error.contains("max_connections"), "{error}");
    // The password never shows in a location.
    let database = TestDatabase::create().await;
    let with_password =
        database
            .url()
            .replacen("postgres://postgres@", "postgres://postgres:s3cret@", 1);
    let store = open(&with_password).await.unwrap();
    assert!(matches!(*store, SqlStore::Postgres(_)));
    assert!(!store.location().contains("s3cret"), "{}", store.location());
    store.close().await;
}

#[tokio::test]
async fn data_survives_closing_and_reconnecting() {
    let database = TestDatabase::create().await;
    let mut saved = running("e1", 2);
    let key = TriggerKey {
        namespace: "io.test".into(),
        flow_id: "f".into(),
        trigger_id: "schedule".into(),
    };
    {
        let store = open(database.url()).await.unwrap();
        store.put_flow("io.test", "f", "id: f").await.unwrap();
        store.save_execution(&saved, &Changed::All).await.unwrap();
        let before = saved.task_run_list.clone();
        saved.task_run_list[1].transition(StateType::Running, at(2));
        store
            .save_execution(&saved, &Changed::between(&before, &saved.task_run_list))
            .await
            .unwrap();
        store.append_logs(&[log("e1", "kept")]).await.unwrap();
        store
            .put_trigger(&TriggerRecord {
                key: key.clone(),
                next_execution_date: Some(at(60)),
                disabled: false,
                context: serde_json::json!({"last": "e1"}),
                lease_owner: Some("s1".into()),
                lease_until: Some(at(10)),
                updated: at(0),
            })
            .await
            .unwrap();
        let entry = KvPut {
            value: KvValue::new(serde_json::json!({"n": 1})),
            description: None,
            expiration: None,
            overwrite: true,
        };
        store.put("io.test", "k", entry, at(0)).await.unwrap();
        store.close().await;
    }
    let store = open(database.url()).await.unwrap();
    let flow = store.get_flow("io.test", "f", None).await.unwrap().unwrap();
    assert_eq!((flow.revision, flow.source.as_str()), (1, "id: f"));
    assert_eq!(
        store.get_execution(&saved.id).await.unwrap().as_ref(),
        Some(&saved)
    );
    assert_eq!(store.unfinished_executions().await.unwrap(), [saved]);
    let logs = store.logs(&LogFilter::execution("e1")).await.unwrap();
    assert_eq!(logs, [log("e1", "kept")]);
    let trigger = store.get_trigger(&key).await.unwrap().unwrap();
    assert_eq!(trigger.lease_until, Some(at(10)));
    let kv = store.get("io.test", "k", at(1)).await.unwrap().unwrap();
    assert_eq!(kv.value.value, serde_json::json!({"n": 1}));
    store.close().await;
}

/// A trigger refusing task runs named `boom`, as a failure after the header was written.
async fn refuse_boom(conn: &mut PgConnection) {
    sqlx::raw_sql(
        "CREATE FUNCTION refuse_boom() RETURNS trigger LANGUAGE plpgsql AS \
         $$ BEGIN RAISE EXCEPTION 'refused by the test'; END $$; \
         CREATE TRIGGER refuse_boom BEFORE INSERT ON task_runs FOR EACH ROW \
         WHEN (NEW.id = 'boom') EXECUTE FUNCTION refuse_boom();",
    )
    .execute(&mut *conn)
    .await
    .unwrap();
}

#[tokio::test]
async fn a_save_failing_midway_changes_nothing() {
    let database = TestDatabase::create().await;
    let store = PgStore::connect(database.url()).await.unwrap();
    let mut e = running("e1", 1);
    store.save_execution(&e, &Changed::All).await.unwrap();
    let stored = e.clone();

    e.transition(StateType::Failed, at(5));
    let unknown = Changed::TaskRuns(vec![e.task_run_list[0].id.clone(), TaskRunId::new("zz")]);
    assert!(matches!(
        store.save_execution(&e, &unknown).await,
        Err(saker_storage::Error::NotFound(_))
    ));
    assert_eq!(
        store.get_execution(&e.id).await.unwrap(),
        Some(stored.clone())
    );

    refuse_boom(&mut raw(&database).await).await;
    let before = e.task_run_list.clone();
    e.task_run_list[0].transition(StateType::Running, at(5));
    let boom = TaskRun::new(TaskRunId::new("boom"), &e, "t2", at(5));
    e.task_run_list.push(boom);
    let changed = Changed::between(&before, &e.task_run_list);
    let error = store.save_execution(&e, &changed).await.unwrap_err();
    assert!(error.to_string().contains("refused by the test"), "{error}");
    assert_eq!(store.get_execution(&e.id).await.unwrap(), Some(stored));
    // A full rewrite of a new execution failing on its runs leaves no header behind.
    let mut fresh = running("e2", 1);
    fresh
        .task_run_list
        .push(TaskRun::new(TaskRunId::new("boom"), &fresh, "t2", at(5)));
    assert!(store.save_execution(&fresh, &Changed::All).await.is_err());
    assert_eq!(store.get_execution(&fresh.id).await.unwrap(), None);
    // The pool is usable afterwards.
    e.task_run_list.pop();
    store.save_execution(&e, &Changed::All).await.unwrap();
    assert_eq!(store.get_execution(&e.id).await.unwrap(), Some(e));
}

/// A batch is one transaction: every execution of it lands, or none does.
#[tokio::test]
async fn a_batch_of_saves_commits_together_or_not_at_all() {
    let database = TestDatabase::create().await;
    let store = PgStore::connect(database.url()).await.unwrap();
    let mut e1 = running("e1", 1);
    let mut e2 = running("e2", 2);
    // One new, one stored: the batch mixes both statements.
    store.save_execution(&e1, &Changed::All).await.unwrap();
    store
        .save_executions(&[(&e1, &Changed::All), (&e2, &Changed::All)])
        .await
        .unwrap();
    assert_eq!(
        store.get_execution(&e1.id).await.unwrap().as_ref(),
        Some(&e1)
    );
    assert_eq!(
        store.get_execution(&e2.id).await.unwrap().as_ref(),
        Some(&e2)
    );
    let (stored1, stored2) = (e1.clone(), e2.clone());

    refuse_boom(&mut raw(&database).await).await;
    let before1 = e1.task_run_list.clone();
    e1.task_run_list[0].transition(StateType::Success, at(5));
    let changed1 = Changed::between(&before1, &e1.task_run_list);
    let before2 = e2.task_run_list.clone();
    let boom = TaskRun::new(TaskRunId::new("boom"), &e2, "t2", at(5));
    e2.task_run_list.push(boom);
    let changed2 = Changed::between(&before2, &e2.task_run_list);
    let error = store
        .save_executions(&[(&e1, &changed1), (&e2, &changed2)])
        .await
        .unwrap_err();
    assert!(error.to_string().contains("refused by the test"), "{error}");
    assert_eq!(store.get_execution(&e1.id).await.unwrap(), Some(stored1));
    assert_eq!(store.get_execution(&e2.id).await.unwrap(), Some(stored2));
}

/// The runtime may batch several saves of one execution; they apply in order.
#[tokio::test]
async fn a_batch_naming_an_execution_twice_applies_its_saves_in_order() {
    let database = TestDatabase::create().await;
    let store = PgStore::connect(database.url()).await.unwrap();
    let first = running("e1", 1);
    let mut second = first.clone();
    let before = second.task_run_list.clone();
    second.task_run_list[0].transition(StateType::Success, at(2));
    second
        .task_run_list
        .push(TaskRun::new(TaskRunId::new("e1-r1"), &second, "t", at(2)));
    let delta = Changed::between(&before, &second.task_run_list);
    let mut third = second.clone();
    third.transition(StateType::Success, at(3));
    let other = running("e2", 0);
    store
        .save_executions(&[
            (&first, &Changed::All),
            (&other, &Changed::All),
            (&second, &delta),
            (&third, &Changed::TaskRuns(Vec::new())),
        ])
        .await
        .unwrap();
    assert_eq!(store.get_execution(&third.id).await.unwrap(), Some(third));
    assert_eq!(store.get_execution(&other.id).await.unwrap(), Some(other));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_saves_of_different_executions_all_land() {
    let database = TestDatabase::create().await;
    let store = Arc::new(PgStore::connect(database.url()).await.unwrap());
    let mut tasks = Vec::new();
    for worker in 0..8 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let mut finals = Vec::new();
            for n in 0..25 {
                let mut e = running(&format!("w{worker}-e{n}"), 0);
                store.save_execution(&e, &Changed::All).await.unwrap();
                for step in 0..3 {
                    let before = e.task_run_list.clone();
                    let run = TaskRun::new(
                        TaskRunId::new(format!("w{worker}-e{n}-t{step}")),
                        &e,
                        "t",
                        at(2),
                    );
                    e.task_run_list.push(run);
                    e.task_run_list[step].transition(StateType::Success, at(3));
                    let changed = Changed::between(&before, &e.task_run_list);
                    store.save_execution(&e, &changed).await.unwrap();
                }
                e.transition(StateType::Success, at(4));
                store
                    .save_execution(&e, &Changed::TaskRuns(Vec::new()))
                    .await
                    .unwrap();
                finals.push(e);
            }
            finals
        }));
    }
    let mut expected = Vec::new();
    for task in tasks {
        expected.extend(task.await.unwrap());
    }
    for e in &expected {
        assert_eq!(store.get_execution(&e.id).await.unwrap().as_ref(), Some(e));
    }
    let all = store
        .search_executions(&ExecutionQuery {
            states: vec![StateType::Success],
            paging: Paging { page: 1, size: 0 },
            ..ExecutionQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(all.total, 200);
    assert!(store.unfinished_executions().await.unwrap().is_empty());
}

/// Two stores on one database stand for two processes.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_processes_never_hold_one_lease_nor_number_one_revision_twice() {
    let database = TestDatabase::create().await;
    let a = Arc::new(PgStore::connect(database.url()).await.unwrap());
    let b = Arc::new(PgStore::connect(database.url()).await.unwrap());
    let key = TriggerKey {
        namespace: "io.test".into(),
        flow_id: "f".into(),
        trigger_id: "schedule".into(),
    };
    a.put_trigger(&TriggerRecord {
        key: key.clone(),
        next_execution_date: None,
        disabled: false,
        context: serde_json::json!({}),
        lease_owner: None,
        lease_until: None,
        updated: at(0),
    })
    .await
    .unwrap();
    // Each round, the previous lease has expired and both race for the next one.
    for round in 1..=30 {
        let now = at(round * 10);
        let until = at(round * 10 + 5);
        let (ka, kb) = (key.clone(), key.clone());
        let (sa, sb) = (a.clone(), b.clone());
        let (ra, rb) = tokio::join!(
            tokio::spawn(async move { sa.acquire_trigger_lease(&ka, "a", until, now).await }),
            tokio::spawn(async move { sb.acquire_trigger_lease(&kb, "b", until, now).await }),
        );
        let (ra, rb) = (ra.unwrap().unwrap(), rb.unwrap().unwrap());
        assert!(
            ra.is_some() != rb.is_some(),
            "round {round}: exactly one owner, got {ra:?} and {rb:?}"
        );
        let owner = a.get_trigger(&key).await.unwrap().unwrap().lease_owner;
        let winner = if ra.is_some() { "a" } else { "b" };
        assert_eq!(owner.as_deref(), Some(winner));
    }
    // Ten new sources of one flow saved at once from both: ten distinct revisions.
    let saves: Vec<_> = (0..10)
        .map(|n| {
            let store = if n % 2 == 0 { a.clone() } else { b.clone() };
            tokio::spawn(async move {
                store
                    .put_flow("io.test", "f", &format!("source {n}"))
                    .await
                    .unwrap()
                    .revision
            })
        })
        .collect();
    let mut revisions = Vec::new();
    for save in saves {
        revisions.push(save.await.unwrap());
    }
    revisions.sort_unstable();
    assert_eq!(revisions, (1..=10).collect::<Vec<u32>>());
}

/// Connections dropped by the server (restart, failover, an administrator) fail the operations
/// using them, with an error; the next operations get new connections and succeed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_connections_fail_their_operations_then_the_pool_recovers() {
    let database = TestDatabase::create().await;
    let store = Arc::new(PgStore::connect(database.url()).await.unwrap());
    let mut e = running("e1", 1);
    store.save_execution(&e, &Changed::All).await.unwrap();

    // A save stuck behind a lock is in flight when its connection is killed.
    let mut admin = raw(&database).await;
    let mut locker = raw(&database).await;
    sqlx::raw_sql("BEGIN; LOCK TABLE executions IN ACCESS EXCLUSIVE MODE")
        .execute(&mut locker)
        .await
        .unwrap();
    e.transition(StateType::Success, at(9));
    let in_flight = {
        let (store, e) = (store.clone(), e.clone());
        tokio::spawn(async move {
            store
                .save_execution(&e, &Changed::TaskRuns(Vec::new()))
                .await
        })
    };
    wait_until(
        &mut admin,
        &someone_waits_for_a_lock(&database),
        "the save waits for the lock",
    )
    .await;
    // Every session of the store (the idle ones too), not the test's own.
    let killed: i64 = sqlx::query_scalar(
        "SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity \
         WHERE datname = $1 AND application_name = 'saker'",
    )
    .bind(database.name())
    .fetch_one(&mut admin)
    .await
    .unwrap();
    assert!(killed >= 1);
    let error = in_flight.await.unwrap().unwrap_err();
    assert!(
        matches!(error, saker_storage::Error::Backend(_)),
        "{error:?}"
    );
    sqlx::raw_sql("ROLLBACK")
        .execute(&mut locker)
        .await
        .unwrap();
    // The killed save did not land; the next ones do, on new connections.
    assert_eq!(
        store
            .get_execution(&e.id)
            .await
            .unwrap()
            .unwrap()
            .state
            .current(),
        StateType::Running
    );
    store
        .save_execution(&e, &Changed::TaskRuns(Vec::new()))
        .await
        .unwrap();
    assert_eq!(store.get_execution(&e.id).await.unwrap(), Some(e));
    store.append_logs(&[log("e1", "after")]).await.unwrap();
    assert_eq!(
        store.logs(&LogFilter::execution("e1")).await.unwrap().len(),
        1
    );
}

/// With every connection busy, a caller waits up to the acquire timeout, then gets an error
/// saying what to tune; nothing panics and the pool serves again once connections free up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exhausted_pool_makes_callers_wait_then_fail_clearly() {
    let database = TestDatabase::create().await;
    let url = format!("{}?max_connections=1&acquire_timeout=1", database.url());
    let store = Arc::new(PgStore::connect(&url).await.unwrap());
    assert_eq!(store.settings().max_connections, 1);
    let e = running("e1", 0);
    store.save_execution(&e, &Changed::All).await.unwrap();

    let mut admin = raw(&database).await;
    let mut locker = raw(&database).await;
    sqlx::raw_sql("BEGIN; LOCK TABLE executions IN ACCESS EXCLUSIVE MODE")
        .execute(&mut locker)
        .await
        .unwrap();
    // The only connection is taken by a read stuck behind the lock.
    let holder = {
        let (store, id) = (store.clone(), e.id.clone());
        tokio::spawn(async move { store.get_execution(&id).await })
    };
    wait_until(
        &mut admin,
        &someone_waits_for_a_lock(&database),
        "the read holds the only connection",
    )
    .await;
    let error = store
        .list_flows(None)
        .await
        .expect_err("no connection is free")
        .to_string();
    assert!(
        error.contains("max_connections") && error.contains("acquire_timeout"),
        "{error}"
    );
    sqlx::raw_sql("ROLLBACK")
        .execute(&mut locker)
        .await
        .unwrap();
    assert_eq!(holder.await.unwrap().unwrap(), Some(e));
    assert!(store.list_flows(None).await.unwrap().is_empty());
}

/// Text PostgreSQL cannot hold (NUL characters) in task output or labels does not fail saves.
#[tokio::test]
async fn nul_characters_in_logs_and_labels_are_stored() {
    let database = TestDatabase::create().await;
    let store = PgStore::connect(database.url()).await.unwrap();
    store
        .append_logs(&[log("e1", "before\0after")])
        .await
        .unwrap();
    let logs = store.logs(&LogFilter::execution("e1")).await.unwrap();
    assert_eq!(logs[0].message, "before\u{FFFD}after");
    let mut e = running("e1", 0);
    e.labels.push(Label::new("odd", "a\0b"));
    store.save_execution(&e, &Changed::All).await.unwrap();
    // The execution keeps its labels exactly.
    assert_eq!(store.get_execution(&e.id).await.unwrap(), Some(e));
}

#[tokio::test]
async fn the_searched_columns_follow_the_execution() {
    let database = TestDatabase::create().await;
    let store = PgStore::connect(database.url()).await.unwrap();
    let mut e = running("e1", 1);
    store.save_execution(&e, &Changed::All).await.unwrap();
    let count = |query: ExecutionQuery| {
        let store = &store;
        async move { store.search_executions(&query).await.unwrap().total }
    };
    let by_label = |key: &str, value: &str| ExecutionQuery {
        labels: vec![Label::new(key, value)],
        ..ExecutionQuery::default()
    };
    assert_eq!(count(by_label("team", "data")).await, 1);
    // Labels changed by a later save are searched as changed.
    e.labels = vec![Label::new("team", "ops")];
    e.transition(StateType::Success, at(9));
    store
        .save_execution(&e, &Changed::TaskRuns(Vec::new()))
        .await
        .unwrap();
    assert_eq!(count(by_label("team", "data")).await, 0);
    assert_eq!(count(by_label("team", "ops")).await, 1);
    let by_state = |state| ExecutionQuery {
        states: vec![state],
        ..ExecutionQuery::default()
    };
    assert_eq!(count(by_state(StateType::Running)).await, 0);
    assert_eq!(count(by_state(StateType::Success)).await, 1);
    e.deleted = true;
    store
        .save_execution(&e, &Changed::TaskRuns(Vec::new()))
        .await
        .unwrap();
    assert_eq!(count(by_state(StateType::Success)).await, 0);
    let found = store
        .search_executions(&ExecutionQuery {
            include_deleted: true,
            ..by_state(StateType::Success)
        })
        .await
        .unwrap();
    assert_eq!(found.results, [e]);
}

/// Flow changes saved by one process reach a listener in another once committed, in commit
/// order, and so do the notes of trigger states changed; a save that changes nothing is not
/// told; a killed listening connection gives a
/// resync, and notes flow again after it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flow_changes_reach_other_processes_once_committed() {
    let database = TestDatabase::create().await;
    let writer = PgStore::connect(database.url()).await.unwrap();
    let follower = PgStore::connect(database.url()).await.unwrap();
    let mut changes = follower.flow_changes().await.unwrap();
    let mut next = async || {
        tokio::time::timeout(Duration::from_secs(60), changes.recv())
            .await
            .expect("a flow change within a minute")
            .expect("the listener runs")
    };
    let saved = |id: &str| FlowChange::Saved {
        namespace: "company.team".to_owned(),
        id: id.to_owned(),
    };
    writer
        .put_flow("company.team", "one", "id: one")
        .await
        .unwrap();
    assert_eq!(next().await, saved("one"));
    // Told after the commit: the follower reads the revision it was told about.
    let record = follower
        .get_flow("company.team", "one", None)
        .await
        .unwrap();
    assert_eq!(record.map(|r| r.revision), Some(1));
    writer
        .put_flow("company.team", "one", "id: one")
        .await
        .unwrap();
    writer
        .put_flow("company.team", "two", "id: two")
        .await
        .unwrap();
    assert_eq!(next().await, saved("two"), "the unchanged save is not told");
    assert!(writer.delete_flow("company.team", "one").await.unwrap());
    assert_eq!(next().await, saved("one"));
    // A trigger state changed by the API of a process that runs no triggers.
    let trigger = TriggerKey {
        namespace: "company.team".to_owned(),
        flow_id: "two".to_owned(),
        trigger_id: "hourly".to_owned(),
    };
    writer.trigger_changed(&trigger).await.unwrap();
    assert_eq!(
        next().await,
        FlowChange::Trigger {
            namespace: "company.team".to_owned(),
            id: "two".to_owned(),
            trigger_id: "hourly".to_owned(),
        }
    );

    let mut admin = raw(&database).await;
    let killed: Vec<bool> = sqlx::query_scalar(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = current_database() AND query LIKE 'LISTEN%'",
    )
    .fetch_all(&mut admin)
    .await
    .unwrap();
    assert_eq!(killed, [true], "one listening connection");
    assert_eq!(next().await, FlowChange::Resync);
    writer
        .put_flow("company.team", "three", "id: three")
        .await
        .unwrap();
    assert_eq!(next().await, saved("three"));
}
