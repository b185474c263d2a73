//! The SQLite store on disk: data survives a reopen, failed saves leave nothing behind,
//! concurrent saves all land, and bad files are refused with errors naming them.

use std::path::Path;
use std::sync::Arc;

mod common;

use common::{log, running};
use saker_core::{ExecutionId, StateType, TaskRun, TaskRunId};
use saker_storage::suite::at;
use saker_storage::{Changed, ExecutionQuery, LogFilter, Paging, Store, TriggerKey, TriggerRecord};
use saker_store_sql::SqliteStore;
use saker_task::kv::{KvPut, KvStore, KvValue};
use sqlx::Connection;
use sqlx::sqlite::SqliteConnection;

/// A raw connection to the store's file, to tamper with it the way a bug or another program
/// could.
async fn raw(path: &Path) -> SqliteConnection {
    SqliteConnection::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap()
}

#[tokio::test]
async fn data_survives_closing_and_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested/data/saker.db");
    let mut saved = running("e1", 2);
    let key = TriggerKey {
        namespace: "io.test".into(),
        flow_id: "f".into(),
        trigger_id: "schedule".into(),
    };
    {
        let store = SqliteStore::open(&path).await.unwrap();
        assert_eq!(store.location(), path.display().to_string());
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
    let store = SqliteStore::open(&path).await.unwrap();
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
}

#[tokio::test]
async fn a_save_failing_inside_its_transaction_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("saker.db");
    let store = SqliteStore::open(&path).await.unwrap();
    let mut e = running("e1", 1);
    store.save_execution(&e, &Changed::All).await.unwrap();
    let stored = e.clone();

    // A delta naming a run the execution does not have is refused before anything is written.
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

    // A failure after the header was already updated (here a task-run row the database
    // refuses) rolls the whole save back.
    let mut conn = raw(&path).await;
    sqlx::query(
        "CREATE TRIGGER refuse_boom BEFORE INSERT ON task_runs WHEN NEW.id = 'boom' \
         BEGIN SELECT RAISE(ABORT, 'refused by the test'); END",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    let before = e.task_run_list.clone();
    e.task_run_list[0].transition(StateType::Running, at(5));
    let boom = TaskRun::new(TaskRunId::new("boom"), &e, "t2", at(5));
    e.task_run_list.push(boom);
    let changed = Changed::between(&before, &e.task_run_list);
    let error = store.save_execution(&e, &changed).await.unwrap_err();
    assert!(error.to_string().contains("refused by the test"), "{error}");
    assert_eq!(store.get_execution(&e.id).await.unwrap(), Some(stored));
    // The writer is usable afterwards (no transaction left open).
    e.task_run_list.pop();
    store.save_execution(&e, &Changed::All).await.unwrap();
    assert_eq!(store.get_execution(&e.id).await.unwrap(), Some(e));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_saves_of_different_executions_all_land() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(
        SqliteStore::open(dir.path().join("saker.db"))
            .await
            .unwrap(),
    );
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

#[tokio::test]
async fn a_file_that_is_not_a_database_is_refused_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("saker.db");
    std::fs::write(&path, "this is not a database at all\n".repeat(200)).unwrap();
    let error = SqliteStore::open(&path).await.err().unwrap().to_string();
    assert!(error.contains(&path.display().to_string()), "{error}");
    assert!(error.contains("not a SQLite database"), "{error}");
    // Nothing was written over it.
    assert!(
        std::fs::read_to_string(&path)
            .unwrap()
            .starts_with("this is not")
    );
}

#[tokio::test]
async fn a_path_that_cannot_hold_a_database_is_refused_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    // A directory where the file should be.
    let error = SqliteStore::open(dir.path())
        .await
        .err()
        .unwrap()
        .to_string();
    assert!(error.contains(&dir.path().display().to_string()), "{error}");
    // A parent that is a file.
    let file = dir.path().join("plain");
    std::fs::write(&file, "x").unwrap();
    let error = SqliteStore::open(file.join("saker.db"))
        .await
        .err()
        .unwrap()
        .to_string();
    assert!(error.contains(&file.display().to_string()), "{error}");
}

#[tokio::test]
async fn a_database_from_a_newer_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("saker.db");
    SqliteStore::open(&path).await.unwrap().close().await;
    let mut conn = raw(&path).await;
    let future = saker_store_sql::schema_version() + 1;
    sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
         VALUES ($1, 'from the future', TRUE, x'00', 0)",
    )
    .bind(future)
    .execute(&mut conn)
    .await
    .unwrap();
    conn.close().await.unwrap();
    let error = SqliteStore::open(&path).await.err().unwrap().to_string();
    assert!(error.contains(&path.display().to_string()), "{error}");
    assert!(
        error.contains(&format!("schema version {future}")) && error.contains("newer Saker"),
        "{error}"
    );
}

#[tokio::test]
async fn the_searched_columns_follow_the_execution() {
    let store = SqliteStore::memory().await.unwrap();
    let mut e = running("e1", 1);
    store.save_execution(&e, &Changed::All).await.unwrap();
    let by_state = |state| ExecutionQuery {
        states: vec![state],
        ..ExecutionQuery::default()
    };
    assert_eq!(
        store
            .search_executions(&by_state(StateType::Running))
            .await
            .unwrap()
            .total,
        1
    );
    e.transition(StateType::Success, at(9));
    e.deleted = true;
    store
        .save_execution(&e, &Changed::TaskRuns(Vec::new()))
        .await
        .unwrap();
    assert_eq!(
        store
            .search_executions(&by_state(StateType::Running))
            .await
            .unwrap()
            .total,
        0
    );
    // Soft-deleted executions are only found on request.
    assert_eq!(
        store
            .search_executions(&by_state(StateType::Success))
            .await
            .unwrap()
            .total,
        0
    );
    let with_deleted = ExecutionQuery {
        include_deleted: true,
        ..by_state(StateType::Success)
    };
    let found = store.search_executions(&with_deleted).await.unwrap();
    assert_eq!(found.results, [e.clone()]);
    assert!(
        store
            .get_execution(&ExecutionId::new("e1"))
            .await
            .unwrap()
            .unwrap()
            .deleted
    );
}

/// A batch is one transaction: every execution of it lands, or none does.
#[tokio::test]
async fn a_batch_of_saves_commits_together_or_not_at_all() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("saker.db");
    let store = SqliteStore::open(&path).await.unwrap();
    let mut e1 = running("e1", 1);
    let mut e2 = running("e2", 2);
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

    let mut conn = raw(&path).await;
    sqlx::query(
        "CREATE TRIGGER refuse_boom BEFORE INSERT ON task_runs WHEN NEW.id = 'boom' \
         BEGIN SELECT RAISE(ABORT, 'refused by the test'); END",
    )
    .execute(&mut conn)
    .await
    .unwrap();
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
