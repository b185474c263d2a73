//! The storage test suite every [`Store`] backend runs: one set of behaviours, checked the same
//! way on the in-memory, SQLite and PostgreSQL backends. A backend's tests call
//! [`store_suite!`](crate::store_suite) with an async expression that makes a fresh, empty store.

use saker_core::{Execution, ExecutionId, FlowRef, Instant, Label, StateType, TaskRun, TaskRunId};
use saker_task::Level;

use crate::{
    Changed, ExecutionPurge, ExecutionQuery, LogEntry, LogFilter, LogPurge, LogSearch, MetricEntry,
    MetricQuery, Paging, Scope, Store, TriggerKey, TriggerRecord,
};

/// Expands to one `#[tokio::test]` per suite function, each on a fresh store made by `$make`
/// (an async expression evaluating to a `Store`).
#[macro_export]
macro_rules! store_suite {
    ($make:expr) => {
        $crate::store_suite!(@tests $make;
            flows_get_a_revision_per_changed_source,
            deleted_flows_keep_their_history,
            executions_round_trip_with_deltas,
            a_delta_on_an_unsaved_execution_writes_it_whole,
            a_batch_is_saved_all_or_nothing,
            search_filters_sorts_and_pages,
            unfinished_executions_are_the_non_terminated_ones,
            deleting_an_execution_removes_its_logs,
            logs_filter_and_search,
            triggers_and_their_leases,
            metrics_filter_page_and_list_names,
            purging_executions_takes_ended_ones_in_batches,
            purging_executions_honours_scopes_states_and_parts,
            purging_logs_by_date_level_and_scope,
        );
    };
    // `$make` evaluates to `(guard, store)`: the guard (a temporary directory...) lives as long
    // as the test.
    (guarded $make:expr) => {
        $crate::store_suite!(@guarded $make;
            flows_get_a_revision_per_changed_source,
            deleted_flows_keep_their_history,
            executions_round_trip_with_deltas,
            a_delta_on_an_unsaved_execution_writes_it_whole,
            a_batch_is_saved_all_or_nothing,
            search_filters_sorts_and_pages,
            unfinished_executions_are_the_non_terminated_ones,
            deleting_an_execution_removes_its_logs,
            logs_filter_and_search,
            triggers_and_their_leases,
            metrics_filter_page_and_list_names,
            purging_executions_takes_ended_ones_in_batches,
            purging_executions_honours_scopes_states_and_parts,
            purging_logs_by_date_level_and_scope,
        );
    };
    (@tests $make:expr; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $name() {
                let store = $make.await;
                $crate::suite::$name(&store).await;
            }
        )*
    };
    (@guarded $make:expr; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $name() {
                let (_guard, store) = $make.await;
                $crate::suite::$name(&store).await;
            }
        )*
    };
}

/// The [`KvStore`](saker_task::KvStore) suite, like [`store_suite!`](crate::store_suite): one
/// `#[tokio::test]` per function of [`kv`], each on a fresh store made by `$make`
/// (`guarded $make` for an expression evaluating to `(guard, store)`).
#[macro_export]
macro_rules! kv_suite {
    ($make:expr) => {
        $crate::kv_suite!(@plain $make;
            kv_values_round_trip_with_their_types,
            kv_lists_sorted_live_keys_of_one_namespace,
            kv_overwrite_and_creation_dates,
            kv_expired_entries_are_reported_then_gone,
            kv_rejects_invalid_keys,
            kv_lookup_inherits_from_parent_namespaces,
            kv_lists_namespaces_and_purges_expired_entries,
        );
    };
    (guarded $make:expr) => {
        $crate::kv_suite!(@guarded $make;
            kv_values_round_trip_with_their_types,
            kv_lists_sorted_live_keys_of_one_namespace,
            kv_overwrite_and_creation_dates,
            kv_expired_entries_are_reported_then_gone,
            kv_rejects_invalid_keys,
            kv_lookup_inherits_from_parent_namespaces,
            kv_lists_namespaces_and_purges_expired_entries,
        );
    };
    (@plain $make:expr; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $name() {
                let store = $make.await;
                $crate::suite::kv::$name(&store).await;
            }
        )*
    };
    (@guarded $make:expr; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $name() {
                let (_guard, store) = $make.await;
                $crate::suite::kv::$name(&store).await;
            }
        )*
    };
}

/// `2026-01-01T00:00:00Z` plus `seconds`.
pub fn at(seconds: i64) -> Instant {
    saker_core::time::parse_instant("2026-01-01T00:00:00Z").unwrap()
        + chrono::TimeDelta::seconds(seconds)
}

/// A CREATED execution of `namespace.flow` started at `at(start)`.
pub fn execution(id: &str, namespace: &str, flow: &str, start: i64) -> Execution {
    Execution::new(
        ExecutionId::new(id),
        &FlowRef::new(namespace, flow, 1),
        &[],
        Vec::new(),
        at(start),
    )
}

fn log(execution: &str, task: Option<&str>, level: Level, message: &str, at_s: i64) -> LogEntry {
    LogEntry {
        namespace: "io.test".to_owned(),
        flow_id: "f".to_owned(),
        task_id: task.map(str::to_owned),
        execution_id: execution.to_owned(),
        task_run_id: task.map(|t| format!("{t}-run")),
        attempt_number: task.map(|_| 1),
        timestamp: at(at_s),
        level,
        thread: "worker".to_owned(),
        message: message.to_owned(),
    }
}

pub async fn flows_get_a_revision_per_changed_source<S: Store>(store: &S) {
    assert_eq!(store.put_flow("ns", "f", "a").await.unwrap().revision, 1);
    assert_eq!(store.put_flow("ns", "f", "a").await.unwrap().revision, 1);
    assert_eq!(store.put_flow("ns", "f", "b").await.unwrap().revision, 2);
    store.put_flow("other", "g", "c").await.unwrap();
    store.put_flow("ns.child", "h", "d").await.unwrap();
    let latest = store.get_flow("ns", "f", None).await.unwrap().unwrap();
    assert_eq!((latest.revision, latest.source.as_str()), (2, "b"));
    let first = store.get_flow("ns", "f", Some(1)).await.unwrap().unwrap();
    assert_eq!(first.source, "a");
    assert!(store.get_flow("ns", "f", Some(9)).await.unwrap().is_none());
    assert!(store.get_flow("ns", "nope", None).await.unwrap().is_none());
    let all: Vec<_> = store
        .list_flows(None)
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.namespace, r.id, r.revision))
        .collect();
    assert_eq!(
        all,
        [
            ("ns".to_owned(), "f".to_owned(), 2),
            ("ns.child".to_owned(), "h".to_owned(), 1),
            ("other".to_owned(), "g".to_owned(), 1)
        ]
    );
    assert_eq!(store.list_flows(Some("ns")).await.unwrap().len(), 1);
}

pub async fn deleted_flows_keep_their_history<S: Store>(store: &S) {
    store.put_flow("ns", "f", "a").await.unwrap();
    assert!(store.delete_flow("ns", "f").await.unwrap());
    assert!(!store.delete_flow("ns", "f").await.unwrap());
    assert!(!store.delete_flow("ns", "unknown").await.unwrap());
    assert!(store.get_flow("ns", "f", None).await.unwrap().is_none());
    assert!(store.list_flows(None).await.unwrap().is_empty());
    let history = store.flow_revisions("ns", "f").await.unwrap();
    assert_eq!(
        history
            .iter()
            .map(|r| (r.revision, r.deleted))
            .collect::<Vec<_>>(),
        [(1, false), (2, true)]
    );
    // Saving the same source again brings the flow back as a new revision.
    let back = store.put_flow("ns", "f", "a").await.unwrap();
    assert_eq!((back.revision, back.deleted), (3, false));
    assert_eq!(
        store
            .get_flow("ns", "f", None)
            .await
            .unwrap()
            .unwrap()
            .revision,
        3
    );
}

pub async fn executions_round_trip_with_deltas<S: Store>(store: &S) {
    let mut execution = execution("e1", "ns", "f", 0);
    execution.labels.push(Label::new("team", "data"));
    store
        .save_execution(&execution, &Changed::All)
        .await
        .unwrap();
    let a = TaskRun::new(TaskRunId::new("a"), &execution, "ta", at(1));
    let b = TaskRun::new(TaskRunId::new("b"), &execution, "tb", at(1));
    let before = execution.task_run_list.clone();
    execution.task_run_list.push(a);
    execution.task_run_list.push(b);
    execution.transition(StateType::Running, at(1));
    let changed = Changed::between(&before, &execution.task_run_list);
    store.save_execution(&execution, &changed).await.unwrap();
    // Only `b` changes: `a` must come back as it was.
    let before = execution.task_run_list.clone();
    execution.task_run_list[1].transition(StateType::Running, at(2));
    let changed = Changed::between(&before, &execution.task_run_list);
    assert_eq!(changed, Changed::TaskRuns(vec![TaskRunId::new("b")]));
    store.save_execution(&execution, &changed).await.unwrap();
    let loaded = store
        .get_execution(&ExecutionId::new("e1"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(loaded, execution);
    // A delta naming an unknown run is refused and changes nothing.
    let unknown = Changed::TaskRuns(vec![TaskRunId::new("zz")]);
    assert!(store.save_execution(&execution, &unknown).await.is_err());
    // A full rewrite may drop runs (restart).
    execution.task_run_list.truncate(1);
    store
        .save_execution(&execution, &Changed::All)
        .await
        .unwrap();
    let loaded = store
        .get_execution(&ExecutionId::new("e1"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(loaded.task_run_list.len(), 1);
    assert!(
        store
            .get_execution(&ExecutionId::new("nope"))
            .await
            .unwrap()
            .is_none()
    );
}

pub async fn a_delta_on_an_unsaved_execution_writes_it_whole<S: Store>(store: &S) {
    let mut execution = execution("e1", "ns", "f", 0);
    for id in ["a", "b"] {
        let run = TaskRun::new(TaskRunId::new(id), &execution, "t", at(1));
        execution.task_run_list.push(run);
    }
    let changed = Changed::TaskRuns(vec![TaskRunId::new("b")]);
    store.save_execution(&execution, &changed).await.unwrap();
    assert_eq!(
        store.get_execution(&execution.id).await.unwrap(),
        Some(execution)
    );
}

/// The runtime answers every submit of a batch with the batch's result: a failed batch must
/// store none of its executions, a successful one all of them.
pub async fn a_batch_is_saved_all_or_nothing<S: Store>(store: &S) {
    let stored = execution("e1", "ns", "f", 0);
    store.save_execution(&stored, &Changed::All).await.unwrap();
    let (new, other) = (execution("e2", "ns", "f", 1), execution("e3", "ns", "f", 2));
    let unknown = Changed::TaskRuns(vec![TaskRunId::new("zz")]);
    let batch = [
        (&new, &Changed::All),
        (&stored, &unknown),
        (&other, &Changed::All),
    ];
    assert!(store.save_executions(&batch).await.is_err());
    for id in ["e2", "e3"] {
        let found = store.get_execution(&ExecutionId::new(id)).await.unwrap();
        assert!(found.is_none(), "{id} was stored by a failed batch");
    }
    let batch = [(&new, &Changed::All), (&other, &Changed::All)];
    store.save_executions(&batch).await.unwrap();
    assert_eq!(store.get_execution(&new.id).await.unwrap(), Some(new));
    assert_eq!(store.get_execution(&other.id).await.unwrap(), Some(other));
}

async fn seed_executions<S: Store>(store: &S) {
    let specs = [
        ("e1", "io.a", "f1", 10, StateType::Success),
        ("e2", "io.a", "f1", 20, StateType::Failed),
        ("e3", "io.a.sub", "f2", 30, StateType::Running),
        ("e4", "io.ab", "f1", 40, StateType::Success),
        ("e5", "io.a", "f2", 50, StateType::Paused),
    ];
    for (id, ns, flow, start, state) in specs {
        let mut e = execution(id, ns, flow, start);
        if id == "e2" {
            e.labels.push(Label::new("team", "data"));
        }
        if id == "e3" {
            e.parent_id = Some(ExecutionId::new("e1"));
        }
        e.transition(state, at(start + 1));
        store.save_execution(&e, &Changed::All).await.unwrap();
    }
}

fn ids(page: &crate::Page<Execution>) -> Vec<&str> {
    page.results.iter().map(|e| e.id.as_str()).collect()
}

pub async fn search_filters_sorts_and_pages<S: Store>(store: &S) {
    seed_executions(store).await;
    let all = store
        .search_executions(&ExecutionQuery::default())
        .await
        .unwrap();
    assert_eq!(
        (ids(&all), all.total),
        (vec!["e5", "e4", "e3", "e2", "e1"], 5)
    );
    let query = |f: &dyn Fn(&mut ExecutionQuery)| {
        let mut q = ExecutionQuery::default();
        f(&mut q);
        q
    };
    let ns = store
        .search_executions(&query(&|q| q.namespace = Some("io.a".into())))
        .await
        .unwrap();
    assert_eq!(ids(&ns), ["e5", "e3", "e2", "e1"]);
    let flow = store
        .search_executions(&query(&|q| {
            q.namespace = Some("io.a".into());
            q.flow_id = Some("f1".into());
        }))
        .await
        .unwrap();
    assert_eq!(ids(&flow), ["e2", "e1"]);
    let states = store
        .search_executions(&query(&|q| {
            q.states = vec![StateType::Success, StateType::Paused]
        }))
        .await
        .unwrap();
    assert_eq!(ids(&states), ["e5", "e4", "e1"]);
    let labels = store
        .search_executions(&query(&|q| q.labels = vec![Label::new("team", "data")]))
        .await
        .unwrap();
    assert_eq!(ids(&labels), ["e2"]);
    let window = store
        .search_executions(&query(&|q| {
            q.start_from = Some(at(20));
            q.start_to = Some(at(40));
        }))
        .await
        .unwrap();
    assert_eq!(ids(&window), ["e3", "e2"]);
    let parent = store
        .search_executions(&query(&|q| q.parent_id = Some("e1".into())))
        .await
        .unwrap();
    assert_eq!(ids(&parent), ["e3"]);
    let text = store
        .search_executions(&query(&|q| q.text = Some("SUB".into())))
        .await
        .unwrap();
    assert_eq!(ids(&text), ["e3"]);
    let page2 = store
        .search_executions(&query(&|q| q.paging = Paging { page: 2, size: 2 }))
        .await
        .unwrap();
    assert_eq!((ids(&page2), page2.total), (vec!["e3", "e2"], 5));
    let beyond = store
        .search_executions(&query(&|q| q.paging = Paging { page: 9, size: 2 }))
        .await
        .unwrap();
    assert_eq!((ids(&beyond).len(), beyond.total), (0, 5));
}

pub async fn unfinished_executions_are_the_non_terminated_ones<S: Store>(store: &S) {
    seed_executions(store).await;
    let created = execution("e0", "io.a", "f1", 5);
    store.save_execution(&created, &Changed::All).await.unwrap();
    let unfinished: Vec<String> = store
        .unfinished_executions()
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.id.as_str().to_owned())
        .collect();
    assert_eq!(unfinished, ["e0", "e3", "e5"]);
}

pub async fn deleting_an_execution_removes_its_logs<S: Store>(store: &S) {
    seed_executions(store).await;
    store
        .append_logs(&[
            log("e1", None, Level::Info, "one", 1),
            log("e2", None, Level::Info, "two", 2),
        ])
        .await
        .unwrap();
    assert!(
        store
            .delete_execution(&ExecutionId::new("e1"))
            .await
            .unwrap()
    );
    assert!(
        !store
            .delete_execution(&ExecutionId::new("e1"))
            .await
            .unwrap()
    );
    assert!(
        store
            .get_execution(&ExecutionId::new("e1"))
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .logs(&LogFilter::execution("e1"))
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store.logs(&LogFilter::execution("e2")).await.unwrap().len(),
        1
    );
}

fn metric(execution: &str, task: &str, run: &str, name: &str, value: f64) -> MetricEntry {
    MetricEntry {
        namespace: "company.team".into(),
        flow_id: if execution == "e3" { "other" } else { "flow" }.into(),
        task_id: task.into(),
        execution_id: execution.into(),
        task_run_id: run.into(),
        metric_type: if name.ends_with(".duration") {
            "timer"
        } else {
            "counter"
        }
        .into(),
        name: name.into(),
        value,
        timestamp: at(value as i64),
        tags: [("source".to_owned(), format!("{task}-tag"))].into(),
    }
}

pub async fn metrics_filter_page_and_list_names<S: Store>(store: &S) {
    let entries = [
        metric("e1", "t1", "r1", "rows", 1.0),
        metric("e1", "t1", "r1", "load.duration", 2.5),
        metric("e1", "t2", "r2", "rows", 3.0),
        metric("e2", "t3", "r3", "bytes", 4.0),
        metric("e3", "t9", "r9", "elsewhere", 5.0),
    ];
    store.append_metrics(&entries[..2]).await.unwrap();
    store.append_metrics(&entries[2..]).await.unwrap();
    store.append_metrics(&[]).await.unwrap();
    let query = |run: Option<&str>, task: Option<&str>, page: u32, size: u32| MetricQuery {
        execution_id: "e1".into(),
        task_run_id: run.map(str::to_owned),
        task_id: task.map(str::to_owned),
        paging: Paging { page, size },
    };
    let all = store
        .search_metrics(&query(None, None, 1, 10))
        .await
        .unwrap();
    assert_eq!(all.total, 3);
    assert_eq!(
        all.results,
        entries[..3].to_vec(),
        "insertion order, all fields kept"
    );
    let second = store
        .search_metrics(&query(None, None, 2, 2))
        .await
        .unwrap();
    assert_eq!(
        (second.total, second.results),
        (3, vec![entries[2].clone()])
    );
    let by_run = store
        .search_metrics(&query(Some("r1"), None, 1, 10))
        .await
        .unwrap();
    assert_eq!(by_run.results, entries[..2].to_vec());
    let by_task = store
        .search_metrics(&query(None, Some("t2"), 1, 10))
        .await
        .unwrap();
    assert_eq!(by_task.results, vec![entries[2].clone()]);
    let none = store
        .search_metrics(&MetricQuery {
            execution_id: "nope".into(),
            ..query(None, None, 1, 10)
        })
        .await
        .unwrap();
    assert_eq!((none.total, none.results.len()), (0, 0));

    let names = store
        .metric_names("company.team", "flow", None)
        .await
        .unwrap();
    assert_eq!(names, ["bytes", "load.duration", "rows"]);
    let names = store
        .metric_names("company.team", "flow", Some("t1"))
        .await
        .unwrap();
    assert_eq!(names, ["load.duration", "rows"]);
    let tasks = store.metric_tasks("company.team", "flow").await.unwrap();
    assert_eq!(tasks, ["t1", "t2", "t3"]);
    assert!(store.metric_tasks("x", "flow").await.unwrap().is_empty());
}

pub async fn logs_filter_and_search<S: Store>(store: &S) {
    store
        .append_logs(&[
            log("e1", None, Level::Info, "execution started", 1),
            log("e1", Some("t1"), Level::Debug, "debug line", 2),
            log("e1", Some("t1"), Level::Warn, "Careful now", 3),
            log("e1", Some("t2"), Level::Error, "boom", 4),
            log("e2", Some("t1"), Level::Info, "other execution", 5),
        ])
        .await
        .unwrap();
    let messages = |entries: Vec<LogEntry>| -> Vec<String> {
        entries.into_iter().map(|e| e.message).collect()
    };
    let all = store.logs(&LogFilter::execution("e1")).await.unwrap();
    assert_eq!(
        messages(all),
        ["execution started", "debug line", "Careful now", "boom"]
    );
    let filter = LogFilter {
        task_ids: vec!["t1".into()],
        min_level: Some(Level::Info),
        ..LogFilter::execution("e1")
    };
    assert_eq!(
        messages(store.logs(&filter).await.unwrap()),
        ["Careful now"]
    );
    let by_run = LogFilter {
        task_run_id: Some("t2-run".into()),
        ..LogFilter::execution("e1")
    };
    assert_eq!(messages(store.logs(&by_run).await.unwrap()), ["boom"]);

    let search = LogSearch {
        namespace: Some("io".into()),
        min_level: Some(Level::Info),
        paging: Paging { page: 1, size: 2 },
        ..LogSearch::default()
    };
    let page = store.search_logs(&search).await.unwrap();
    assert_eq!(
        (messages(page.results), page.total),
        (
            vec!["execution started".to_owned(), "Careful now".to_owned()],
            4
        )
    );
    let text = LogSearch {
        text: Some("careful".into()),
        from: Some(at(2)),
        to: Some(at(4)),
        paging: Paging { page: 1, size: 0 },
        ..LogSearch::default()
    };
    assert_eq!(
        messages(store.search_logs(&text).await.unwrap().results),
        ["Careful now"]
    );
    assert_eq!(store.delete_logs("e1").await.unwrap(), 4);
    assert!(
        store
            .logs(&LogFilter::execution("e1"))
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store.logs(&LogFilter::execution("e2")).await.unwrap().len(),
        1
    );
}

pub async fn triggers_and_their_leases<S: Store>(store: &S) {
    let key = |ns: &str, flow: &str, id: &str| TriggerKey {
        namespace: ns.to_owned(),
        flow_id: flow.to_owned(),
        trigger_id: id.to_owned(),
    };
    let record = |k: TriggerKey| TriggerRecord {
        key: k,
        next_execution_date: Some(at(60)),
        disabled: false,
        context: serde_json::json!({"backfill": null, "n": 1}),
        lease_owner: None,
        lease_until: None,
        updated: at(0),
    };
    let k1 = key("io.a", "f", "schedule");
    store.put_trigger(&record(k1.clone())).await.unwrap();
    store
        .put_trigger(&record(key("io.a.sub", "g", "t")))
        .await
        .unwrap();
    store
        .put_trigger(&record(key("io.b", "h", "t")))
        .await
        .unwrap();
    assert_eq!(
        store.get_trigger(&k1).await.unwrap(),
        Some(record(k1.clone()))
    );
    assert_eq!(store.list_triggers(None).await.unwrap().len(), 3);
    assert_eq!(store.list_triggers(Some("io.a")).await.unwrap().len(), 2);

    // Taken by one owner, refused to another until it expires, renewed by its holder.
    let leased = store
        .acquire_trigger_lease(&k1, "s1", at(10), at(0))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(leased.lease_owner.as_deref(), Some("s1"));
    assert!(
        store
            .acquire_trigger_lease(&k1, "s2", at(15), at(5))
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .acquire_trigger_lease(&k1, "s1", at(20), at(5))
            .await
            .unwrap()
            .is_some()
    );
    let taken = store
        .acquire_trigger_lease(&k1, "s2", at(40), at(20))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(taken.lease_owner.as_deref(), Some("s2"));
    assert!(
        store
            .acquire_trigger_lease(&key("io.x", "none", "t"), "s1", at(10), at(0))
            .await
            .unwrap()
            .is_none()
    );
    // Updating the record keeps what is written.
    let mut disabled = taken.clone();
    disabled.disabled = true;
    store.put_trigger(&disabled).await.unwrap();
    assert!(store.get_trigger(&k1).await.unwrap().unwrap().disabled);
    assert!(store.delete_trigger(&k1).await.unwrap());
    assert!(!store.delete_trigger(&k1).await.unwrap());
    assert!(store.get_trigger(&k1).await.unwrap().is_none());
}

/// Saves an execution of `namespace.flow` started at `at(start)` that reached `state` at
/// `at(end)`.
async fn ended<S: Store>(
    store: &S,
    id: &str,
    namespace: &str,
    flow: &str,
    (start, end): (i64, i64),
    state: StateType,
) {
    let mut e = execution(id, namespace, flow, start);
    e.transition(state, at(end));
    store.save_execution(&e, &Changed::All).await.unwrap();
}

fn scoped_log(execution: &str, namespace: &str, flow: &str, level: Level, at_s: i64) -> LogEntry {
    LogEntry {
        namespace: namespace.to_owned(),
        flow_id: flow.to_owned(),
        ..log(
            execution,
            Some("t"),
            level,
            &format!("{execution}@{at_s}"),
            at_s,
        )
    }
}

async fn exists<S: Store>(store: &S, id: &str) -> bool {
    store
        .get_execution(&ExecutionId::new(id))
        .await
        .unwrap()
        .is_some()
}

pub async fn purging_executions_takes_ended_ones_in_batches<S: Store>(store: &S) {
    ended(store, "old1", "io.a", "f", (0, 10), StateType::Success).await;
    ended(store, "old2", "io.a", "f", (0, 20), StateType::Failed).await;
    ended(store, "old3", "io.a", "f", (0, 30), StateType::Killed).await;
    ended(store, "recent", "io.a", "f", (0, 500), StateType::Success).await;
    // Started long ago but not ended: never purged, whatever its age.
    ended(store, "running", "io.a", "f", (0, 1), StateType::Running).await;
    ended(store, "paused", "io.a", "f", (0, 1), StateType::Paused).await;
    let mut with_run = execution("old1", "io.a", "f", 0);
    with_run
        .task_run_list
        .push(TaskRun::new(TaskRunId::new("r1"), &with_run, "t", at(1)));
    with_run.transition(StateType::Success, at(10));
    store
        .save_execution(&with_run, &Changed::All)
        .await
        .unwrap();
    store
        .append_logs(&[
            log("old1", Some("t"), Level::Info, "gone", 5),
            log("recent", Some("t"), Level::Info, "kept", 5),
        ])
        .await
        .unwrap();
    store
        .append_metrics(&[MetricEntry {
            execution_id: "old1".into(),
            ..metric("e1", "t", "r1", "rows", 1.0)
        }])
        .await
        .unwrap();

    let purge = ExecutionPurge::ended_before(at(100));
    let first = store.purge_executions(&purge, 2).await.unwrap();
    let ids: Vec<&str> = first.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(ids, ["old1", "old2"], "those that ended first go first");
    assert_eq!(
        (first[0].namespace.as_str(), first[0].flow_id.as_str()),
        ("io.a", "f")
    );
    let second = store.purge_executions(&purge, 2).await.unwrap();
    assert_eq!(second.len(), 1, "the last batch is short");
    assert_eq!(second[0].id, "old3");
    assert!(store.purge_executions(&purge, 2).await.unwrap().is_empty());
    for id in ["recent", "running", "paused"] {
        assert!(exists(store, id).await, "{id} is kept");
    }
    assert!(!exists(store, "old1").await);
    assert!(
        store
            .logs(&LogFilter::execution("old1"))
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store
            .logs(&LogFilter::execution("recent"))
            .await
            .unwrap()
            .len(),
        1
    );
    let metrics = store
        .search_metrics(&MetricQuery {
            execution_id: "old1".into(),
            paging: Paging { page: 1, size: 0 },
            ..MetricQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(metrics.total, 0);
}

pub async fn purging_executions_honours_scopes_states_and_parts<S: Store>(store: &S) {
    ended(store, "a", "io.a", "f", (0, 10), StateType::Success).await;
    ended(store, "a-sub", "io.a.sub", "g", (0, 10), StateType::Success).await;
    ended(store, "ab", "io.ab", "f", (0, 10), StateType::Success).await;
    ended(store, "a-failed", "io.a", "f", (0, 10), StateType::Failed).await;
    ended(
        store,
        "a-other",
        "io.a",
        "other",
        (0, 10),
        StateType::Success,
    )
    .await;
    ended(
        store,
        "late-start",
        "io.a",
        "f",
        (50, 60),
        StateType::Success,
    )
    .await;
    store
        .append_logs(&[scoped_log("a", "io.a", "f", Level::Info, 5)])
        .await
        .unwrap();
    let ids = |purged: Vec<crate::PurgedExecution>| -> Vec<String> {
        let mut ids: Vec<String> = purged.into_iter().map(|p| p.id).collect();
        ids.sort();
        ids
    };
    // Namespace and children, except one flow, SUCCESS only, started before 50, logs kept.
    let purge = ExecutionPurge {
        scope: Some(Scope {
            namespace: "io.a".into(),
            flow_id: None,
        }),
        except: vec![Scope {
            namespace: "io.a".into(),
            flow_id: Some("other".into()),
        }],
        start_from: None,
        end_before: at(100),
        states: vec![StateType::Success, StateType::Running],
        logs: false,
        metrics: true,
    };
    let mut narrowed = purge.clone();
    narrowed.start_from = Some(at(40));
    assert_eq!(
        ids(store.purge_executions(&narrowed, 10).await.unwrap()),
        ["late-start"]
    );
    assert_eq!(
        ids(store.purge_executions(&purge, 10).await.unwrap()),
        ["a", "a-sub"]
    );
    for id in ["ab", "a-failed", "a-other"] {
        assert!(exists(store, id).await, "{id} is kept");
    }
    assert_eq!(
        store.logs(&LogFilter::execution("a")).await.unwrap().len(),
        1,
        "logs: false keeps the log lines"
    );
    // A flow scope is that namespace exactly.
    let flow = ExecutionPurge {
        scope: Some(Scope {
            namespace: "io.a".into(),
            flow_id: Some("f".into()),
        }),
        ..ExecutionPurge::ended_before(at(100))
    };
    assert_eq!(
        ids(store.purge_executions(&flow, 10).await.unwrap()),
        ["a-failed"]
    );
}

async fn all_messages<S: Store>(store: &S) -> Vec<String> {
    let search = LogSearch {
        paging: Paging { page: 1, size: 0 },
        ..LogSearch::default()
    };
    let page = store.search_logs(&search).await.unwrap();
    page.results.into_iter().map(|e| e.message).collect()
}

pub async fn purging_logs_by_date_level_and_scope<S: Store>(store: &S) {
    store
        .append_logs(&[
            scoped_log("e1", "io.a", "f", Level::Info, 1),
            scoped_log("e1", "io.a", "f", Level::Error, 2),
            scoped_log("e2", "io.a.sub", "g", Level::Info, 3),
            scoped_log("e3", "io.ab", "f", Level::Info, 4),
            scoped_log("e4", "io.a", "keep", Level::Info, 5),
            scoped_log("e1", "io.a", "f", Level::Info, 500),
        ])
        .await
        .unwrap();
    let infos = LogPurge {
        scope: Some(Scope {
            namespace: "io.a".into(),
            flow_id: None,
        }),
        except: vec![Scope {
            namespace: "io.a".into(),
            flow_id: Some("keep".into()),
        }],
        levels: vec![Level::Info],
        ..LogPurge::before(at(100))
    };
    assert_eq!(store.purge_logs(&infos, 1).await.unwrap(), 1);
    assert_eq!(store.purge_logs(&infos, 10).await.unwrap(), 1);
    assert_eq!(store.purge_logs(&infos, 10).await.unwrap(), 0);
    assert_eq!(
        all_messages(store).await,
        ["e1@2", "e3@4", "e4@5", "e1@500"]
    );
    let window = LogPurge {
        from: Some(at(4)),
        execution_id: Some("e3".into()),
        ..LogPurge::before(at(100))
    };
    assert_eq!(store.purge_logs(&window, 10).await.unwrap(), 1);
    assert_eq!(
        store
            .purge_logs(&LogPurge::before(at(100)), 10)
            .await
            .unwrap(),
        2
    );
    assert_eq!(all_messages(store).await, ["e1@500"]);
}

/// The KV store behaviours ([`kv_suite!`](crate::kv_suite)).
pub mod kv {
    use saker_task::kv::{KvError, KvMeta, KvPut, KvStore, KvType, KvValue, get_inherited};
    use serde_json::{Value, json};

    use super::at;

    fn keys(list: Vec<KvMeta>) -> Vec<String> {
        list.into_iter().map(|meta| meta.key).collect()
    }

    fn put(value: KvValue) -> KvPut {
        KvPut {
            value,
            description: None,
            expiration: None,
            overwrite: true,
        }
    }

    pub async fn kv_values_round_trip_with_their_types<S: KvStore>(store: &S) {
        let values = [
            ("s", KvValue::new(json!("text"))),
            ("n", KvValue::new(json!(1.5))),
            ("i", KvValue::new(json!(42))),
            ("b", KvValue::new(json!(true))),
            ("j", KvValue::new(json!({"a": [1, {"b": null}], "z": "é"}))),
            (
                "d",
                KvValue {
                    kind: KvType::Datetime,
                    value: json!("2026-01-01T00:00:00Z"),
                },
            ),
            (
                "p",
                KvValue {
                    kind: KvType::Duration,
                    value: json!("PT5M"),
                },
            ),
        ];
        for (key, value) in &values {
            let mut entry = put(value.clone());
            entry.description = Some(format!("about {key}"));
            store.put("io.kv", key, entry, at(1)).await.unwrap();
        }
        for (key, value) in &values {
            let entry = store.get("io.kv", key, at(2)).await.unwrap().unwrap();
            assert_eq!(&entry.value, value, "{key}");
            assert_eq!(entry.meta.key, *key);
            assert_eq!(
                entry.meta.description.as_deref(),
                Some(&*format!("about {key}"))
            );
            assert_eq!(
                (entry.meta.creation_date, entry.meta.update_date),
                (at(1), at(1))
            );
            assert_eq!(entry.meta.expiration_date, None);
        }
        assert_eq!(store.get("io.kv", "missing", at(2)).await.unwrap(), None);
        assert_eq!(store.get("io.other", "s", at(2)).await.unwrap(), None);
    }

    pub async fn kv_lists_sorted_live_keys_of_one_namespace<S: KvStore>(store: &S) {
        for key in ["b", "a", "c"] {
            store
                .put("io.kv", key, put(KvValue::new(json!(key))), at(0))
                .await
                .unwrap();
        }
        store
            .put("io.kv.child", "x", put(KvValue::new(json!(1))), at(0))
            .await
            .unwrap();
        let mut expiring = put(KvValue::new(json!(0)));
        expiring.expiration = Some(at(10));
        store.put("io.kv", "0old", expiring, at(0)).await.unwrap();
        assert_eq!(
            keys(store.list("io.kv", at(5)).await.unwrap()),
            ["0old", "a", "b", "c"]
        );
        assert_eq!(
            keys(store.list("io.kv", at(10)).await.unwrap()),
            ["a", "b", "c"]
        );
        assert!(store.delete("io.kv", "b").await.unwrap());
        assert!(!store.delete("io.kv", "b").await.unwrap());
        assert_eq!(
            keys(store.list("io.kv", at(5)).await.unwrap()),
            ["0old", "a", "c"]
        );
        assert_eq!(keys(store.list("io.kv.child", at(5)).await.unwrap()), ["x"]);
        assert!(store.list("io.none", at(5)).await.unwrap().is_empty());
    }

    pub async fn kv_overwrite_and_creation_dates<S: KvStore>(store: &S) {
        store
            .put("ns", "k", put(KvValue::new(json!(1))), at(1))
            .await
            .unwrap();
        store
            .put("ns", "k", put(KvValue::new(json!("two"))), at(2))
            .await
            .unwrap();
        let entry = store.get("ns", "k", at(3)).await.unwrap().unwrap();
        assert_eq!(entry.value, KvValue::new(json!("two")));
        assert_eq!(
            (entry.meta.creation_date, entry.meta.update_date),
            (at(1), at(2))
        );
        let mut keep = put(KvValue::new(json!(3)));
        keep.overwrite = false;
        assert_eq!(
            store.put("ns", "k", keep.clone(), at(4)).await,
            Err(KvError::AlreadyExists { key: "k".into() })
        );
        assert_eq!(
            store
                .get("ns", "k", at(4))
                .await
                .unwrap()
                .unwrap()
                .value
                .value,
            json!("two")
        );
        // An expired entry does not block a write without overwrite, and does not lend its
        // creation date.
        let mut short = put(KvValue::new(json!("short")));
        short.expiration = Some(at(6));
        store.put("ns", "e", short, at(5)).await.unwrap();
        store.put("ns", "e", keep, at(7)).await.unwrap();
        let entry = store.get("ns", "e", at(8)).await.unwrap().unwrap();
        assert_eq!(entry.value.value, json!(3));
        assert_eq!(
            (entry.meta.creation_date, entry.meta.expiration_date),
            (at(7), None)
        );
    }

    pub async fn kv_expired_entries_are_reported_then_gone<S: KvStore>(store: &S) {
        let mut entry = put(KvValue::new(json!("v")));
        entry.expiration = Some(at(10));
        store.put("ns", "k", entry, at(0)).await.unwrap();
        let live = store.get("ns", "k", at(9)).await.unwrap().unwrap();
        assert_eq!(live.meta.expiration_date, Some(at(10)));
        assert_eq!(store.get("ns", "k", at(10)).await, Err(KvError::Expired));
        assert_eq!(store.get("ns", "k", at(10)).await, Ok(None));
        assert!(!store.delete("ns", "k").await.unwrap());
    }

    pub async fn kv_rejects_invalid_keys<S: KvStore>(store: &S) {
        for key in ["", "_a", "a b", "a/b"] {
            let result = store
                .put("ns", key, put(KvValue::new(Value::Null)), at(0))
                .await;
            assert!(
                matches!(result, Err(KvError::InvalidKey { .. })),
                "{key}: {result:?}"
            );
        }
        assert!(store.list("ns", at(0)).await.unwrap().is_empty());
    }

    pub async fn kv_lookup_inherits_from_parent_namespaces<S: KvStore>(store: &S) {
        store
            .put("io", "shared", put(KvValue::new(json!("root"))), at(0))
            .await
            .unwrap();
        store
            .put("io.a", "shared", put(KvValue::new(json!("a"))), at(0))
            .await
            .unwrap();
        let found = |ns: &'static str| async move {
            get_inherited(store, ns, "shared", at(1))
                .await
                .unwrap()
                .map(|(ns, entry)| (ns, entry.value.value))
        };
        assert_eq!(found("io.a.b").await, Some(("io.a".into(), json!("a"))));
        assert_eq!(found("io.b").await, Some(("io".into(), json!("root"))));
        assert_eq!(found("other").await, None);
    }

    pub async fn kv_lists_namespaces_and_purges_expired_entries<S: KvStore>(store: &S) {
        assert!(store.namespaces().await.unwrap().is_empty());
        let expiring = |at_secs: i64| {
            let mut entry = put(KvValue::new(json!("v")));
            entry.expiration = Some(at(at_secs));
            entry
        };
        store.put("p.b", "gone1", expiring(5), at(0)).await.unwrap();
        store.put("p.b", "gone2", expiring(3), at(0)).await.unwrap();
        store
            .put("p.b", "later", expiring(50), at(0))
            .await
            .unwrap();
        store
            .put("p.b", "forever", put(KvValue::new(json!(1))), at(0))
            .await
            .unwrap();
        store.put("p.a", "gone", expiring(1), at(0)).await.unwrap();
        // Expired entries still count: their namespace is one a purge must visit.
        assert_eq!(store.namespaces().await.unwrap(), ["p.a", "p.b"]);

        let expired = store.list_expired("p.b", at(5)).await.unwrap();
        assert_eq!(keys(expired.clone()), ["gone1", "gone2"]);
        assert_eq!(expired[0].expiration_date, Some(at(5)));
        assert_eq!(
            keys(store.list("p.b", at(5)).await.unwrap()),
            ["forever", "later"]
        );
        assert!(store.list_expired("p.b", at(2)).await.unwrap().is_empty());
        assert!(store.list_expired("none", at(5)).await.unwrap().is_empty());

        // Only an entry expired at `now` goes; live and missing ones are reported untouched.
        assert!(!store.delete_expired("p.b", "later", at(5)).await.unwrap());
        assert!(!store.delete_expired("p.b", "forever", at(5)).await.unwrap());
        assert!(!store.delete_expired("p.b", "missing", at(5)).await.unwrap());
        assert!(store.delete_expired("p.b", "gone1", at(5)).await.unwrap());
        assert!(!store.delete_expired("p.b", "gone1", at(5)).await.unwrap());
        assert_eq!(
            keys(store.list_expired("p.b", at(5)).await.unwrap()),
            ["gone2"]
        );
        // A re-written key is live again, so a purge listed before the write spares it.
        store
            .put("p.b", "gone2", put(KvValue::new(json!(2))), at(6))
            .await
            .unwrap();
        assert!(!store.delete_expired("p.b", "gone2", at(6)).await.unwrap());
        assert_eq!(
            store
                .get("p.b", "gone2", at(6))
                .await
                .unwrap()
                .unwrap()
                .value
                .value,
            json!(2)
        );

        assert!(store.delete_expired("p.a", "gone", at(6)).await.unwrap());
        assert_eq!(store.namespaces().await.unwrap(), ["p.b"]);
    }
}

#[cfg(test)]
mod memory_kv {
    crate::kv_suite!(async { saker_task::memory::MemoryKvStore::new() });
}
