//! Several executors in one process on the in-memory store and inbox (the PostgreSQL run of
//! the same scenario is in `saker-queue-pg`).

use std::sync::Arc;

use saker_storage::MemoryStore;
use saker_task::memory::{MemoryKvStore, MemoryStorage};

use crate::Runtime;
use crate::inbox::MemoryInbox;

fn memory_runtime() -> Runtime<MemoryStore> {
    Runtime::new(
        Arc::new(MemoryStore::new()),
        Arc::new(MemoryStorage::new()),
        Arc::new(MemoryKvStore::new()),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_executors_share_the_executions_and_take_over_a_dead_one() {
    let rt = memory_runtime();
    crate::inbox::suite::two_executors(rt, Arc::new(MemoryInbox::new())).await;
}

/// Flow concurrency limits hold across executors (see the scenario's documentation).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrency_limits_are_global() {
    let rt = memory_runtime();
    crate::inbox::suite::global_concurrency(rt, Arc::new(MemoryInbox::new())).await;
}

/// Controls claimed by an executor that died before applying them are applied by the next
/// owner, once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn controls_survive_a_take_over() {
    let rt = memory_runtime();
    crate::inbox::suite::controls_survive_a_take_over(rt, Arc::new(MemoryInbox::new())).await;
}

/// A Subflow child its dead executor never saved is started by the executor taking over.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_child_never_saved_is_started_after_a_take_over() {
    let rt = memory_runtime();
    crate::inbox::suite::a_child_never_saved_is_started_after_a_take_over(
        rt,
        Arc::new(MemoryInbox::new()),
    )
    .await;
}

/// A kill of a parent reaches its child owned by another executor, and the child's end comes
/// back to the parent's owner through the inbox.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_kill_reaches_a_child_on_another_executor() {
    use std::time::Duration;

    use saker_core::{ExecutionId, StateType};
    use saker_storage::Store;

    use crate::inbox::{ExecutorInfo, ExecutorQueue};
    use crate::service::{Control, Service};

    let store = Arc::new(MemoryStore::new());
    let inbox = Arc::new(MemoryInbox::new());
    let rt = Runtime::new(
        store.clone(),
        Arc::new(MemoryStorage::new()),
        Arc::new(MemoryKvStore::new()),
    );
    // Long enough that a loaded machine does not delay a renewal past it (a take-over of the
    // parent would leave its executor with nothing, not with the parent alone).
    let lease = Duration::from_secs(6);
    let with_inbox = || {
        rt.clone()
            .with_inbox(inbox.clone(), ExecutorInfo::this_process(), lease)
    };
    let (a, _) = Service::start(with_inbox()).await.unwrap();
    let (b, _) = Service::start(with_inbox()).await.unwrap();
    let api = Service::remote(rt.clone(), inbox.clone());
    for source in [
        "id: sleeper\nnamespace: k\ntasks:\n  - id: nap\n    type: io.kestra.plugin.core.flow.Sleep\n    duration: PT5M\n",
        "id: parent\nnamespace: k\ntasks:\n  - id: sub\n    type: io.kestra.plugin.core.flow.Subflow\n    namespace: k\n    flowId: sleeper\n",
    ] {
        store
            .put_flow(
                "k",
                if source.contains("parent") {
                    "parent"
                } else {
                    "sleeper"
                },
                source,
            )
            .await
            .unwrap();
    }
    let flow = saker_flow::parse_and_validate(
        &store
            .get_flow("k", "parent", None)
            .await
            .unwrap()
            .unwrap()
            .source,
        None,
        saker_tasks::registry(),
    )
    .map(Arc::new)
    .unwrap();
    let parent = saker_core::Execution::new(
        saker_core::IdSource::execution_id(&mut crate::host::RandomIds),
        &saker_core::FlowRef::new("k".to_owned(), "parent".to_owned(), 1),
        &[],
        Vec::new(),
        crate::host::now(),
    );
    let parent_id = parent.id.clone();
    api.submit(flow, parent).await.unwrap();
    // Wait for the child to sleep.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let child_id = loop {
        let child = store
            .get_execution(&parent_id)
            .await
            .unwrap()
            .and_then(|p| p.task_run_list.first().cloned())
            .and_then(|r| {
                r.outputs?
                    .get("executionId")?
                    .as_str()
                    .map(ExecutionId::new)
            });
        if let Some(child) = child
            && store.get_execution(&child).await.unwrap().is_some_and(|c| {
                c.task_run_list
                    .first()
                    .is_some_and(|r| r.state.current() == StateType::Running)
            })
        {
            break child;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the child never slept"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    // Hand the child to the executor that does not run the parent (as a take-over would).
    let (parent_owner, other) = if a.stats().running.load(std::sync::atomic::Ordering::Relaxed) > 0
    {
        (&a, &b)
    } else {
        (&b, &a)
    };
    let mine = parent_owner.runtime().executor_id().unwrap().to_owned();
    let theirs = other.runtime().executor_id().unwrap().to_owned();
    // Once the parent's executor renewed its leases with the child among them (a real
    // take-over only happens after a lease ends, long after that).
    let since = crate::host::now().timestamp_millis();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let live = inbox.live_executors(Duration::from_secs(60)).await.unwrap();
        if live.iter().any(|e| e.id == mine && e.heartbeat_at > since) {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "no heartbeat");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    inbox
        .release(&mine, &[child_id.as_str().to_owned()])
        .await
        .unwrap();
    let owned = inbox
        .own(&theirs, &[child_id.as_str().to_owned()], lease)
        .await
        .unwrap();
    assert_eq!(owned.len(), 1);
    // The parent's executor notices at its next renewal and drops the child from memory.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while parent_owner
        .stats()
        .running
        .load(std::sync::atomic::Ordering::Relaxed)
        != 1
    {
        assert!(tokio::time::Instant::now() < deadline, "the child stayed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    api.control(&parent_id, Control::Kill).await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let parent = store.get_execution(&parent_id).await.unwrap().unwrap();
        let child = store.get_execution(&child_id).await.unwrap().unwrap();
        if parent.state.current() == StateType::Killed && child.state.current() == StateType::Killed
        {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "parent {} child {}",
            parent.state.current(),
            child.state.current()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    a.shutdown().await;
    b.shutdown().await;
    api.shutdown().await;
}
