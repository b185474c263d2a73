//! The scheduler end to end over `MemoryStore`, with a fake launcher and tokio's paused clock:
//! backfills, recovery after downtime, DST, stopAfter, leases, Flow triggers with preconditions
//! and windows, webhooks.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use saker_core::time::parse_instant;
use saker_core::{Execution, ExecutionId, ExecutionTrigger, FlowRef, Instant, Label, StateType};
use saker_engine::EngineServices;
use saker_expr::Services;
use saker_flow::Flow;
use saker_scheduler::{
    Clock, ExecutionLauncher, LaunchRequest, ScheduleState, Scheduler, SchedulerConfig, TokioClock,
    WebhookOutcome, WebhookRequest,
};
use saker_storage::{Changed, MemoryStore, Store, TriggerKey};
use serde_json::{Map, Value, json};

fn at(s: &str) -> Instant {
    parse_instant(s).unwrap()
}

fn flow(yaml: &str) -> Arc<Flow> {
    Arc::new(
        saker_flow::parse_and_validate(yaml, None, saker_tasks::registry())
            .unwrap_or_else(|d| panic!("invalid test flow: {d:?}")),
    )
}

struct TestServices;
impl Services for TestServices {
    fn secret(&self, key: &str) -> Result<String, String> {
        match key {
            "WEBHOOK_KEY" => Ok("secretKey".into()),
            _ => Err(format!("Cannot find secret for key '{key}'.")),
        }
    }
}
impl EngineServices for TestServices {}

type Sched = Scheduler<MemoryStore, Fake>;

/// Creates executions in the store; ends them at once with `end_with` when set.
struct Fake {
    store: Arc<MemoryStore>,
    clock: Arc<dyn Clock>,
    count: AtomicUsize,
    launched: Mutex<Vec<(LaunchRequest, Execution)>>,
    warnings: Mutex<Vec<String>>,
    end_with: Mutex<Option<StateType>>,
    scheduler: OnceLock<Sched>,
}

impl ExecutionLauncher for Fake {
    async fn launch(&self, request: LaunchRequest) -> Result<Execution, String> {
        let n = self.count.fetch_add(1, Ordering::SeqCst);
        let now = self.clock.now();
        let f = &request.flow;
        let mut e = Execution::new(
            ExecutionId::new(format!("exec-{n}")),
            &FlowRef::new(&f.namespace, &f.id, f.revision.unwrap_or(1)),
            &[],
            request.labels.clone(),
            now,
        );
        e.trigger = Some(ExecutionTrigger::new(
            &request.trigger_id,
            request.trigger_type,
            request.variables.clone(),
        ));
        e.schedule_date = request.schedule_date;
        e.inputs = request.inputs.clone();
        self.store
            .save_execution(&e, &Changed::All)
            .await
            .map_err(|e| e.to_string())?;
        self.launched.lock().unwrap().push((request, e.clone()));
        let end_with = *self.end_with.lock().unwrap();
        if let Some(state) = end_with {
            let mut ended = e.clone();
            ended.state.transition(StateType::Running, now);
            ended.state.transition(state, now);
            self.store
                .save_execution(&ended, &Changed::All)
                .await
                .map_err(|e| e.to_string())?;
            self.scheduler.get().expect("set").execution_changed(ended);
        }
        Ok(e)
    }

    fn warn(&self, namespace: &str, flow_id: &str, trigger_id: &str, message: &str) {
        self.warnings
            .lock()
            .unwrap()
            .push(format!("{namespace}.{flow_id}.{trigger_id}: {message}"));
    }
}

struct Harness {
    store: Arc<MemoryStore>,
    fake: Arc<Fake>,
    scheduler: Sched,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Harness {
    /// A scheduler started at `now` over `store`, with `flows` loaded and its loop running.
    async fn start(
        store: Arc<MemoryStore>,
        now: &str,
        flows: &[Arc<Flow>],
        end_with: Option<StateType>,
    ) -> Harness {
        let clock: Arc<dyn Clock> = Arc::new(TokioClock::starting_at(at(now)));
        let fake = Arc::new(Fake {
            store: store.clone(),
            clock: clock.clone(),
            count: AtomicUsize::new(store_execution_count(&store).await),
            launched: Mutex::new(Vec::new()),
            warnings: Mutex::new(Vec::new()),
            end_with: Mutex::new(end_with),
            scheduler: OnceLock::new(),
        });
        let scheduler = Scheduler::new(
            store.clone(),
            fake.clone(),
            clock,
            Arc::new(TestServices),
            SchedulerConfig::default(),
        );
        let _ = fake.scheduler.set(scheduler.clone());
        scheduler.load(flows.to_vec()).await.unwrap();
        let (stop, rx) = tokio::sync::oneshot::channel::<()>();
        let runner = scheduler.clone();
        let task = tokio::spawn(async move {
            runner
                .run(async move {
                    let _ = rx.await;
                })
                .await
        });
        let h = Harness {
            store,
            fake,
            scheduler,
            stop: Some(stop),
            task: Some(task),
        };
        settle().await;
        h
    }

    async fn stop(mut self) {
        let _ = self.stop.take().unwrap().send(());
        self.task.take().unwrap().await.unwrap();
    }

    fn dates(&self) -> Vec<String> {
        self.fake
            .launched
            .lock()
            .unwrap()
            .iter()
            .map(|(r, _)| r.variables["date"].as_str().unwrap().to_owned())
            .collect()
    }

    fn launched(&self) -> Vec<(LaunchRequest, Execution)> {
        self.fake.launched.lock().unwrap().clone()
    }

    /// Ends an execution the fake created (as the server would report it).
    async fn end(&self, execution: &Execution, state: StateType) {
        let mut ended = execution.clone();
        let now = self.fake.clock.now();
        ended.state.transition(StateType::Running, now);
        ended.state.transition(state, now);
        self.store
            .save_execution(&ended, &Changed::All)
            .await
            .unwrap();
        self.scheduler.execution_changed(ended);
        settle().await;
    }
}

async fn store_execution_count(store: &MemoryStore) -> usize {
    let q = saker_storage::ExecutionQuery {
        paging: saker_storage::Paging { page: 1, size: 0 },
        ..Default::default()
    };
    store.search_executions(&q).await.unwrap().total as usize
}

async fn settle() {
    for _ in 0..200 {
        tokio::task::yield_now().await;
    }
}

async fn advance(d: Duration) {
    // Step so every due timer fires in order.
    let step = Duration::from_secs(60);
    let mut left = d;
    while left > Duration::ZERO {
        let s = left.min(step);
        tokio::time::advance(s).await;
        settle().await;
        left -= s;
    }
}

fn key(ns: &str, flow: &str, trigger: &str) -> TriggerKey {
    TriggerKey {
        namespace: ns.into(),
        flow_id: flow.into(),
        trigger_id: trigger.into(),
    }
}

const WEEKLY: &str = r#"
id: weekly
namespace: company.team
inputs:
  - id: mode
    type: STRING
    defaults: full
tasks:
  - id: hello
    type: io.kestra.plugin.core.log.Log
    message: "{{ trigger.date }}"
triggers:
  - id: monday
    type: io.kestra.plugin.core.trigger.Schedule
    cron: "0 9 * * MON"
    timezone: Europe/Paris
    inputs:
      mode: incremental
    labels:
      team: data
"#;

#[tokio::test(start_paused = true)]
async fn backfill_over_three_months_creates_exactly_the_expected_executions_one_at_a_time() {
    let store = Arc::new(MemoryStore::new());
    let h = Harness::start(store, "2025-04-02T12:00:00Z", &[flow(WEEKLY)], None).await;
    let k = key("company.team", "weekly", "monday");
    h.scheduler
        .set_backfill(
            &k,
            at("2025-01-01T00:00:00+01:00"),
            Some(at("2025-03-31T23:59:59+02:00")),
            Map::from_iter([("mode".to_owned(), json!("backfill"))]),
            Some(&json!([{"key": "origin", "value": "backfill"}])),
        )
        .await
        .unwrap();
    settle().await;
    // Never overlapping: the next tick waits for the running execution.
    for expected in 1..=13 {
        let launched = h.launched();
        assert_eq!(launched.len(), expected, "{:?}", h.dates());
        let (_, e) = launched.last().unwrap().clone();
        advance(Duration::from_secs(5)).await;
        assert_eq!(
            h.launched().len(),
            expected,
            "a backfill tick overlapped a running execution"
        );
        h.end(&e, StateType::Success).await;
    }
    assert_eq!(
        h.dates(),
        [
            "2025-01-06T09:00:00+01:00",
            "2025-01-13T09:00:00+01:00",
            "2025-01-20T09:00:00+01:00",
            "2025-01-27T09:00:00+01:00",
            "2025-02-03T09:00:00+01:00",
            "2025-02-10T09:00:00+01:00",
            "2025-02-17T09:00:00+01:00",
            "2025-02-24T09:00:00+01:00",
            "2025-03-03T09:00:00+01:00",
            "2025-03-10T09:00:00+01:00",
            "2025-03-17T09:00:00+01:00",
            "2025-03-24T09:00:00+01:00",
            "2025-03-31T09:00:00+02:00",
        ]
    );
    let (request, execution) = h.launched()[0].clone();
    assert_eq!(request.inputs["mode"], "backfill");
    assert_eq!(
        request.labels,
        [Label::new("team", "data"), Label::new("origin", "backfill")]
    );
    assert_eq!(request.variables["previous"], "2024-12-30T09:00:00+01:00");
    assert_eq!(request.variables["next"], "2025-01-13T09:00:00+01:00");
    assert_eq!(execution.schedule_date, Some(at("2025-01-06T08:00:00Z")));
    // Finished: the backfill is gone and normal scheduling resumes at the next Monday.
    advance(Duration::from_secs(60)).await;
    assert_eq!(h.launched().len(), 13);
    let record = h.store.get_trigger(&k).await.unwrap().unwrap();
    assert!(
        record.context.get("backfill").is_none(),
        "{}",
        record.context
    );
    assert_eq!(record.next_execution_date, Some(at("2025-04-07T07:00:00Z")));
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn backfill_pause_resume_and_delete() {
    let store = Arc::new(MemoryStore::new());
    let h = Harness::start(
        store,
        "2025-04-02T12:00:00Z",
        &[flow(WEEKLY)],
        Some(StateType::Success),
    )
    .await;
    let k = key("company.team", "weekly", "monday");
    h.scheduler
        .set_backfill(&k, at("2025-03-01T00:00:00Z"), None, Map::new(), None)
        .await
        .unwrap();
    h.scheduler.pause_backfill(&k, true).await.unwrap();
    settle().await;
    let before = h.launched().len();
    advance(Duration::from_secs(120)).await;
    assert_eq!(h.launched().len(), before, "a paused backfill must not run");
    assert!(
        h.scheduler
            .set_backfill(&k, at("2025-03-01T00:00:00Z"), None, Map::new(), None)
            .await
            .is_err()
    );
    h.scheduler.pause_backfill(&k, false).await.unwrap();
    advance(Duration::from_secs(60)).await;
    // March 3, 10, 17, 24, 31.
    assert_eq!(h.launched().len(), 5, "{:?}", h.dates());
    assert!(
        h.scheduler.delete_backfill(&k).await.is_err(),
        "already finished"
    );
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn backfill_with_a_condition_lists_only_matching_days() {
    let yaml = r#"
id: monthly
namespace: company.team
tasks:
  - id: hello
    type: io.kestra.plugin.core.log.Log
    message: hi
triggers:
  - id: first-monday
    type: io.kestra.plugin.core.trigger.Schedule
    cron: "0 9 * * *"
    conditions:
      - type: io.kestra.plugin.core.condition.DayWeekInMonth
        dayOfWeek: MONDAY
        dayInMonth: FIRST
"#;
    let store = Arc::new(MemoryStore::new());
    let h = Harness::start(
        store,
        "2025-04-02T12:00:00Z",
        &[flow(yaml)],
        Some(StateType::Success),
    )
    .await;
    let k = key("company.team", "monthly", "first-monday");
    let record = h.store.get_trigger(&k).await.unwrap().unwrap();
    assert_eq!(record.next_execution_date, Some(at("2025-04-07T09:00:00Z")));
    h.scheduler
        .set_backfill(
            &k,
            at("2025-01-01T00:00:00Z"),
            Some(at("2025-03-31T23:59:59Z")),
            Map::new(),
            None,
        )
        .await
        .unwrap();
    advance(Duration::from_secs(60)).await;
    assert_eq!(
        h.dates(),
        [
            "2025-01-06T09:00:00Z",
            "2025-02-03T09:00:00Z",
            "2025-03-03T09:00:00Z"
        ]
    );
    let (request, _) = h.launched()[1].clone();
    assert_eq!(request.variables["previous"], "2025-01-06T09:00:00Z");
    assert_eq!(request.variables["next"], "2025-03-03T09:00:00Z");
    h.stop().await;
}

fn hourly(recover: &str) -> Arc<Flow> {
    flow(&format!(
        r#"
id: hourly
namespace: company.team
tasks:
  - id: hello
    type: io.kestra.plugin.core.log.Log
    message: hi
triggers:
  - id: every-hour
    type: io.kestra.plugin.core.trigger.Schedule
    cron: "0 * * * *"
    recoverMissedSchedules: {recover}
"#
    ))
}

/// Runs until 10:30, stops (downtime), restarts at 14:10; returns the ticks fired after the
/// restart and the stored next date, then checks a second restart fires nothing again.
async fn downtime(recover: &str) -> (Vec<String>, Option<Instant>) {
    let store = Arc::new(MemoryStore::new());
    let h = Harness::start(
        store.clone(),
        "2025-01-01T09:50:00Z",
        &[hourly(recover)],
        Some(StateType::Success),
    )
    .await;
    advance(Duration::from_secs(40 * 60)).await;
    assert_eq!(h.dates(), ["2025-01-01T10:00:00Z"]);
    h.stop().await;
    let h = Harness::start(
        store.clone(),
        "2025-01-01T14:10:00Z",
        &[hourly(recover)],
        Some(StateType::Success),
    )
    .await;
    advance(Duration::from_secs(60)).await;
    let dates = h.dates();
    let next = store
        .get_trigger(&key("company.team", "hourly", "every-hour"))
        .await
        .unwrap()
        .unwrap()
        .next_execution_date;
    h.stop().await;
    // Restarting again right away neither doubles nor misses anything.
    let h = Harness::start(
        store.clone(),
        "2025-01-01T14:12:00Z",
        &[hourly(recover)],
        Some(StateType::Success),
    )
    .await;
    advance(Duration::from_secs(60)).await;
    assert!(
        h.dates().is_empty(),
        "doubled after restart: {:?}",
        h.dates()
    );
    h.stop().await;
    (dates, next)
}

#[tokio::test(start_paused = true)]
async fn recover_missed_schedules_all_last_none_after_downtime() {
    let (dates, next) = downtime("ALL").await;
    assert_eq!(
        dates,
        [
            "2025-01-01T11:00:00Z",
            "2025-01-01T12:00:00Z",
            "2025-01-01T13:00:00Z",
            "2025-01-01T14:00:00Z"
        ]
    );
    assert_eq!(next, Some(at("2025-01-01T15:00:00Z")));
    let (dates, next) = downtime("LAST").await;
    assert_eq!(dates, ["2025-01-01T14:00:00Z"]);
    assert_eq!(next, Some(at("2025-01-01T15:00:00Z")));
    let (dates, next) = downtime("NONE").await;
    assert!(dates.is_empty(), "{dates:?}");
    assert_eq!(next, Some(at("2025-01-01T15:00:00Z")));
}

#[tokio::test(start_paused = true)]
async fn a_crash_between_commit_and_launch_launches_once_after_restart() {
    let store = Arc::new(MemoryStore::new());
    let f = hourly("ALL");
    let h = Harness::start(
        store.clone(),
        "2025-01-01T09:50:00Z",
        std::slice::from_ref(&f),
        Some(StateType::Success),
    )
    .await;
    h.stop().await;
    // Simulate the crash: the tick was committed as launching, no execution exists.
    let k = key("company.team", "hourly", "every-hour");
    let mut record = store.get_trigger(&k).await.unwrap().unwrap();
    record.next_execution_date = Some(at("2025-01-01T11:00:00Z"));
    record.context["launching"] = json!("2025-01-01T10:00:00Z");
    record.context["date"] = json!("2025-01-01T10:00:00Z");
    store.put_trigger(&record).await.unwrap();
    let h = Harness::start(
        store.clone(),
        "2025-01-01T10:00:30Z",
        std::slice::from_ref(&f),
        Some(StateType::Success),
    )
    .await;
    advance(Duration::from_secs(60)).await;
    assert_eq!(h.dates(), ["2025-01-01T10:00:00Z"]);
    h.stop().await;
    // Same crash, but the execution did get created: nothing is launched again.
    let mut record = store.get_trigger(&k).await.unwrap().unwrap();
    record.next_execution_date = Some(at("2025-01-01T11:00:00Z"));
    record.context["launching"] = json!("2025-01-01T10:00:00Z");
    store.put_trigger(&record).await.unwrap();
    let h = Harness::start(
        store.clone(),
        "2025-01-01T10:02:00Z",
        &[f],
        Some(StateType::Success),
    )
    .await;
    advance(Duration::from_secs(60)).await;
    assert!(h.dates().is_empty(), "{:?}", h.dates());
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn daylight_saving_time_in_the_trigger_zone() {
    let yaml = r#"
id: nightly
namespace: company.team
tasks:
  - id: hello
    type: io.kestra.plugin.core.log.Log
    message: hi
triggers:
  - id: night
    type: io.kestra.plugin.core.trigger.Schedule
    cron: "30 2 * * *"
    timezone: Europe/Paris
"#;
    let store = Arc::new(MemoryStore::new());
    let h = Harness::start(
        store,
        "2025-03-28T12:00:00Z",
        &[flow(yaml)],
        Some(StateType::Success),
    )
    .await;
    advance(Duration::from_secs(3 * 24 * 3600)).await;
    assert_eq!(
        h.dates(),
        [
            "2025-03-29T02:30:00+01:00",
            "2025-03-30T03:00:00+02:00",
            "2025-03-31T02:30:00+02:00"
        ]
    );
    let schedule_dates: Vec<Option<Instant>> =
        h.launched().iter().map(|(_, e)| e.schedule_date).collect();
    assert_eq!(schedule_dates[1], Some(at("2025-03-30T01:00:00Z")));
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn late_maximum_delay_and_stop_after() {
    let yaml = r#"
id: minutely
namespace: company.team
tasks:
  - id: hello
    type: io.kestra.plugin.core.log.Log
    message: hi
triggers:
  - id: every-ten
    type: io.kestra.plugin.core.trigger.Schedule
    cron: "*/10 * * * *"
    lateMaximumDelay: PT5M
    stopAfter: [FAILED]
"#;
    let store = Arc::new(MemoryStore::new());
    let h = Harness::start(store, "2025-01-01T10:05:00Z", &[flow(yaml)], None).await;
    advance(Duration::from_secs(6 * 60)).await;
    let (_, first) = h.launched()[0].clone();
    // Runs long: the 10:20 and 10:30 ticks are blocked, then too late (> 5 minutes) to recover.
    advance(Duration::from_secs(27 * 60)).await;
    assert_eq!(h.launched().len(), 1);
    h.end(&first, StateType::Success).await;
    advance(Duration::from_secs(60)).await;
    assert_eq!(
        h.dates(),
        ["2025-01-01T10:10:00Z"],
        "late ticks must be skipped"
    );
    advance(Duration::from_secs(10 * 60)).await;
    assert_eq!(h.dates(), ["2025-01-01T10:10:00Z", "2025-01-01T10:40:00Z"]);
    let (_, second) = h.launched()[1].clone();
    h.end(&second, StateType::Failed).await;
    advance(Duration::from_secs(60 * 60)).await;
    assert_eq!(
        h.launched().len(),
        2,
        "stopAfter FAILED disables the trigger"
    );
    let record = h
        .store
        .get_trigger(&key("company.team", "minutely", "every-ten"))
        .await
        .unwrap()
        .unwrap();
    assert!(record.disabled);
    // Re-enabling resumes (ALL recovers from the stored date, which lateMaximumDelay bounds).
    h.scheduler.set_disabled(&record.key, false).await.unwrap();
    *h.fake.end_with.lock().unwrap() = Some(StateType::Success);
    advance(Duration::from_secs(60)).await;
    assert_eq!(
        h.dates().last().unwrap(),
        "2025-01-01T11:50:00Z",
        "{:?}",
        h.dates()
    );
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_lease_held_elsewhere_delays_evaluation_until_it_expires() {
    let store = Arc::new(MemoryStore::new());
    let f = hourly("ALL");
    let h = Harness::start(
        store.clone(),
        "2025-01-01T09:59:00Z",
        std::slice::from_ref(&f),
        Some(StateType::Success),
    )
    .await;
    let k = key("company.team", "hourly", "every-hour");
    // Another scheduler took the lease and crashed.
    let taken = store
        .acquire_trigger_lease(
            &k,
            "crashed-node",
            at("2025-01-01T10:05:00Z"),
            at("2025-01-01T09:59:00Z"),
        )
        .await
        .unwrap();
    assert!(taken.is_some());
    advance(Duration::from_secs(3 * 60)).await;
    assert!(h.dates().is_empty());
    advance(Duration::from_secs(5 * 60)).await;
    assert_eq!(h.dates(), ["2025-01-01T10:00:00Z"]);
    h.stop().await;
}

fn exec(
    id: &str,
    ns: &str,
    flow_id: &str,
    state: StateType,
    labels: &[(&str, &str)],
    outputs: Value,
) -> Execution {
    let now = at("2025-01-06T10:00:00Z");
    let mut e = Execution::new(
        ExecutionId::new(id),
        &FlowRef::new(ns, flow_id, 1),
        &[],
        labels.iter().map(|(k, v)| Label::new(*k, *v)).collect(),
        now,
    );
    e.state.transition(StateType::Running, now);
    if state != StateType::Running {
        e.state.transition(state, now);
    }
    e.outputs = outputs.as_object().cloned().unwrap_or_default();
    e
}

const LISTENER: &str = r#"
id: listen
namespace: company.team
inputs:
  - id: upstream
    type: STRING
tasks:
  - id: hello
    type: io.kestra.plugin.core.log.Log
    message: hi
triggers:
  - id: both
    type: io.kestra.plugin.core.trigger.Flow
    inputs:
      upstream: "{{ trigger.executionId }} {{ trigger.outputs.extract ?? 'none' }}"
    preconditions:
      id: both_done
      timeWindow:
        type: DURATION_WINDOW
        window: PT1H
      flows:
        - namespace: company.team
          flowId: extract
          states: [SUCCESS, WARNING]
        - namespace: company.team
          flowId: load
      where:
        - id: prod
          filters:
            - field: EXPRESSION
              type: IS_TRUE
              value: "{{ labels.env == 'prod' }}"
"#;

#[tokio::test(start_paused = true)]
async fn flow_trigger_with_preconditions_and_a_window() {
    let store = Arc::new(MemoryStore::new());
    let h = Harness::start(store, "2025-01-06T10:00:00Z", &[flow(LISTENER)], None).await;
    let prod = [("env", "prod")];
    h.scheduler.execution_changed(exec(
        "a1",
        "company.team",
        "extract",
        StateType::Success,
        &prod,
        json!({"extract": "rows"}),
    ));
    settle().await;
    assert!(h.launched().is_empty(), "only one precondition met");
    // A failed load does not count (default states: SUCCESS).
    h.scheduler.execution_changed(exec(
        "b0",
        "company.team",
        "load",
        StateType::Failed,
        &prod,
        json!({}),
    ));
    settle().await;
    assert!(h.launched().is_empty());
    h.scheduler.execution_changed(exec(
        "b1",
        "company.team",
        "load",
        StateType::Success,
        &prod,
        json!({}),
    ));
    settle().await;
    let launched = h.launched();
    assert_eq!(launched.len(), 1);
    let (request, _) = &launched[0];
    assert_eq!(request.variables["executionId"], "b1");
    assert_eq!(request.variables["flowId"], "load");
    assert_eq!(request.variables["state"], "SUCCESS");
    assert_eq!(request.variables["executionLabels"], json!({"env": "prod"}));
    assert_eq!(request.inputs["upstream"], "b1 rows");
    assert!(!request.validate_inputs);
    assert!(
        request
            .labels
            .iter()
            .any(|l| l.key == "system.correlationId" && l.value == "b1")
    );
    // resetOnSuccess: a new load alone fires nothing.
    h.scheduler.execution_changed(exec(
        "b2",
        "company.team",
        "load",
        StateType::Success,
        &prod,
        json!({}),
    ));
    settle().await;
    assert_eq!(h.launched().len(), 1);
    // The 10:00-10:59:59.999 window expires with b2 in it: at 11:10 a fresh window starts, so
    // a non-prod extract does not complete with b2's load.
    advance(Duration::from_secs(70 * 60)).await;
    let dev = [("env", "dev")];
    h.scheduler.execution_changed(exec(
        "a3",
        "company.team",
        "extract",
        StateType::Success,
        &dev,
        json!({}),
    ));
    settle().await;
    assert_eq!(h.launched().len(), 1, "an expired window must not fire");
    // The `where` group needs a prod execution.
    h.scheduler.execution_changed(exec(
        "b3",
        "company.team",
        "load",
        StateType::Success,
        &dev,
        json!({}),
    ));
    settle().await;
    assert_eq!(h.launched().len(), 1);
    h.scheduler.execution_changed(exec(
        "a4",
        "company.team",
        "extract",
        StateType::Success,
        &prod,
        json!({}),
    ));
    settle().await;
    assert_eq!(h.launched().len(), 2);
    assert_eq!(h.launched()[1].0.variables["executionId"], "a4");
    h.stop().await;
}

/// A `where` group only concerns its flow: its filters short-circuit (an EXPRESSION on a label
/// only one upstream has is not rendered for the other), and a sub-condition that cannot be
/// evaluated does not drop what the window already holds.
const PER_FLOW_WHERE: &str = r#"
id: listen-where
namespace: company.team
tasks:
  - id: hello
    type: io.kestra.plugin.core.log.Log
    message: hi
triggers:
  - id: both
    type: io.kestra.plugin.core.trigger.Flow
    preconditions:
      id: both_done
      flows:
        - namespace: company.team
          flowId: extract
        - namespace: company.team
          flowId: load
      where:
        - id: labelled-extract
          filters:
            - field: FLOW_ID
              type: EQUAL_TO
              value: extract
            - field: EXPRESSION
              type: IS_TRUE
              value: "{{ labels.team == 'data' }}"
        - id: any-load
          filters:
            - field: FLOW_ID
              type: EQUAL_TO
              value: load
        - id: broken
          operand: OR
          filters:
            - field: FLOW_ID
              type: EQUAL_TO
              value: load
            - field: EXPRESSION
              type: IS_TRUE
              value: "{{ labels.missing == 'x' }}"
"#;

#[tokio::test(start_paused = true)]
async fn flow_trigger_where_filters_short_circuit_and_errors_keep_the_window() {
    let store = Arc::new(MemoryStore::new());
    let h = Harness::start(store, "2025-01-06T10:00:00Z", &[flow(PER_FLOW_WHERE)], None).await;
    // `broken` cannot be rendered on extract (no `missing` label): extract's own conditions
    // are still remembered.
    h.scheduler.execution_changed(exec(
        "a1",
        "company.team",
        "extract",
        StateType::Success,
        &[("team", "data")],
        json!({}),
    ));
    settle().await;
    assert!(h.launched().is_empty());
    // load has no `team` label: `labelled-extract` stops at its FLOW_ID filter; `broken` is
    // satisfied by its first filter.
    h.scheduler.execution_changed(exec(
        "b1",
        "company.team",
        "load",
        StateType::Success,
        &[],
        json!({}),
    ));
    settle().await;
    let launched = h.launched();
    assert_eq!(launched.len(), 1, "extract then load fire the trigger once");
    assert_eq!(launched[0].0.variables["executionId"], "b1");
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn flow_trigger_states_conditions_and_multiple_condition() {
    let listener = r#"
id: on-pause
namespace: company.other
tasks:
  - id: hello
    type: io.kestra.plugin.core.log.Log
    message: "{{ trigger.state }}"
triggers:
  - id: listen
    type: io.kestra.plugin.core.trigger.Flow
    states: [RUNNING, PAUSED]
    conditions:
      - type: io.kestra.plugin.core.condition.ExecutionFlow
        namespace: company.team
        flowId: extract
"#;
    let multiple = r#"
id: multi
namespace: company.other
tasks:
  - id: hello
    type: io.kestra.plugin.core.log.Log
    message: hi
triggers:
  - id: multiple-listen
    type: io.kestra.plugin.core.trigger.Flow
    inputs:
      bad: "{{ outputs.missing.value }}"
    conditions:
      - id: multiple
        type: io.kestra.plugin.core.condition.MultipleCondition
        window: P1D
        windowAdvance: P0D
        conditions:
          success:
            type: io.kestra.plugin.core.condition.ExecutionStatus
            in: [SUCCESS]
          flow-a:
            type: io.kestra.plugin.core.condition.ExecutionFlow
            namespace: company.team
            flowId: extract
          flow-b:
            type: io.kestra.plugin.core.condition.ExecutionFlow
            namespace: company.team
            flowId: load
"#;
    let store = Arc::new(MemoryStore::new());
    let h = Harness::start(
        store,
        "2025-01-06T10:00:00Z",
        &[flow(listener), flow(multiple)],
        None,
    )
    .await;
    h.scheduler.execution_changed(exec(
        "r1",
        "company.team",
        "extract",
        StateType::Running,
        &[],
        json!({}),
    ));
    settle().await;
    let launched = h.launched();
    assert_eq!(launched.len(), 1);
    assert_eq!(launched[0].0.variables["state"], "RUNNING");
    assert_eq!(launched[0].0.flow.id, "on-pause");
    // SUCCESS is not in `states` of on-pause; extract SUCCESS fills 2 of 3 of `multi`.
    h.scheduler.execution_changed(exec(
        "r1",
        "company.team",
        "extract",
        StateType::Success,
        &[],
        json!({}),
    ));
    settle().await;
    assert_eq!(h.launched().len(), 1);
    // load SUCCESS completes the window, but the inputs cannot render: a warning, no execution.
    h.scheduler.execution_changed(exec(
        "l1",
        "company.team",
        "load",
        StateType::Success,
        &[],
        json!({}),
    ));
    settle().await;
    assert_eq!(h.launched().len(), 1);
    let warnings = h.fake.warnings.lock().unwrap().clone();
    assert!(
        warnings.iter().any(|w| w.contains(
            "Failed to trigger flow company.other.multi for trigger multiple-listen, invalid inputs"
        )),
        "{warnings:?}"
    );
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn webhook_key_match_conditions_and_variables() {
    let hooks = r#"
id: hooks
namespace: company.team
labels:
  team: data
tasks:
  - id: hello
    type: io.kestra.plugin.core.log.Log
    message: "{{ trigger.body }}"
triggers:
  - id: dynamic
    type: io.kestra.plugin.core.trigger.Webhook
    key: "  {{ flow.id }}-key "
  - id: secret
    type: io.kestra.plugin.core.trigger.Webhook
    key: "{{ secret('WEBHOOK_KEY') }}"
    wait: true
    returnOutputs: true
    conditions:
      - type: io.kestra.plugin.core.condition.ExpressionCondition
        expression: "{{ trigger.body.hello == 'world' }}"
"#;
    let store = Arc::new(MemoryStore::new());
    let h = Harness::start(store, "2025-01-06T10:00:00Z", &[flow(hooks)], None).await;
    let get = WebhookRequest {
        method: "GET".into(),
        query: vec![("age".into(), "12".into()), ("age".into(), "13".into())],
        ..Default::default()
    };
    assert_eq!(
        h.scheduler
            .webhook("company.team", "nope", "x", &get)
            .await
            .unwrap(),
        WebhookOutcome::FlowNotFound
    );
    assert_eq!(
        h.scheduler
            .webhook("company.team", "hooks", "wrong", &get)
            .await
            .unwrap(),
        WebhookOutcome::WebhookNotFound
    );
    match h
        .scheduler
        .webhook("company.team", "hooks", "hooks-key", &get)
        .await
        .unwrap()
    {
        WebhookOutcome::Created {
            execution,
            wait,
            return_outputs,
        } => {
            assert!(!wait && !return_outputs);
            let vars = execution.trigger.unwrap().variables.unwrap();
            assert_eq!(
                Value::Object(vars),
                json!({"body": null, "headers": {}, "parameters": {"age": ["12", "13"]}})
            );
        }
        other => panic!("{other:?}"),
    }
    let post = |body: &str| WebhookRequest {
        method: "POST".into(),
        headers: vec![("content-type".into(), "application/json".into())],
        body: Some(body.as_bytes().to_vec()),
        ..Default::default()
    };
    assert_eq!(
        h.scheduler
            .webhook(
                "company.team",
                "hooks",
                "secretKey",
                &post(r#"{"hello":"webhook"}"#)
            )
            .await
            .unwrap(),
        WebhookOutcome::ConditionsFalse
    );
    match h
        .scheduler
        .webhook(
            "company.team",
            "hooks",
            "secretKey",
            &post(r#"{"hello":"world"}"#),
        )
        .await
        .unwrap()
    {
        WebhookOutcome::Created {
            execution,
            wait,
            return_outputs,
        } => {
            assert!(wait && return_outputs);
            let t = execution.trigger.unwrap();
            assert_eq!(t.id, "secret");
            assert_eq!(t.trigger_type, "io.kestra.plugin.core.trigger.Webhook");
            assert_eq!(t.variables.unwrap()["body"], json!({"hello": "world"}));
        }
        other => panic!("{other:?}"),
    }
    // A flow read elsewhere (the store) answers the same; disabled or absent, it is not found.
    match h
        .scheduler
        .webhook_of(Some(flow(hooks)), "hooks-key", &get)
        .await
        .unwrap()
    {
        WebhookOutcome::Created { execution, .. } => {
            assert_eq!(execution.trigger.unwrap().id, "dynamic");
        }
        other => panic!("{other:?}"),
    }
    let disabled = flow(&hooks.replace("tasks:", "disabled: true\ntasks:"));
    assert!(disabled.disabled);
    for absent in [None, Some(disabled)] {
        assert_eq!(
            h.scheduler
                .webhook_of(absent, "hooks-key", &get)
                .await
                .unwrap(),
            WebhookOutcome::FlowNotFound
        );
    }
    // A disabled trigger no longer answers.
    h.scheduler
        .set_disabled(&key("company.team", "hooks", "secret"), true)
        .await
        .unwrap();
    assert_eq!(
        h.scheduler
            .webhook(
                "company.team",
                "hooks",
                "secretKey",
                &post(r#"{"hello":"world"}"#)
            )
            .await
            .unwrap(),
        WebhookOutcome::WebhookNotFound
    );
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn flow_updates_and_deletes_reload_the_schedules() {
    let store = Arc::new(MemoryStore::new());
    let h = Harness::start(
        store.clone(),
        "2025-01-01T09:50:00Z",
        &[hourly("ALL")],
        Some(StateType::Success),
    )
    .await;
    let k = key("company.team", "hourly", "every-hour");
    // Change the cron: the next date is recomputed from now.
    let every_quarter = flow(
        &WEEKLY
            .replace("weekly", "hourly")
            .replace("monday", "every-hour")
            .replace("0 9 * * MON", "*/15 * * * *"),
    );
    h.scheduler.flow_changed(every_quarter).await.unwrap();
    let record = store.get_trigger(&k).await.unwrap().unwrap();
    assert_eq!(record.next_execution_date, Some(at("2025-01-01T10:00:00Z")));
    advance(Duration::from_secs(10 * 60)).await;
    assert_eq!(h.dates(), ["2025-01-01T11:00:00+01:00"]);
    h.scheduler
        .flow_deleted("company.team", "hourly")
        .await
        .unwrap();
    assert!(store.get_trigger(&k).await.unwrap().is_none());
    advance(Duration::from_secs(3600)).await;
    assert_eq!(h.dates().len(), 1);
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn flow_trigger_inputs_render_with_the_upstream_execution_variables() {
    let upstream_flow = flow(
        r#"
id: trigger-flow
namespace: company.team
tasks:
  - id: only
    type: io.kestra.plugin.core.debug.Return
    format: "from parents: {{ execution.id }}"
"#,
    );
    let listener = flow(
        r#"
id: trigger-flow-listener
namespace: company.team
inputs:
  - id: from-parent
    type: STRING
tasks:
  - id: only-listener
    type: io.kestra.plugin.core.debug.Return
    format: "childs: {{ inputs['from-parent'] }}"
triggers:
  - id: listen-flow
    type: io.kestra.plugin.core.trigger.Flow
    inputs:
      from-parent: "{{ outputs.only.value }} / {{ labels.team }}"
    conditions:
      - type: io.kestra.plugin.core.condition.ExecutionStatus
        in: [SUCCESS]
      - type: io.kestra.plugin.core.condition.ExecutionFlow
        namespace: company.team
        flowId: trigger-flow
"#,
    );
    let store = Arc::new(MemoryStore::new());
    let h = Harness::start(
        store,
        "2025-01-06T10:00:00Z",
        &[upstream_flow, listener],
        None,
    )
    .await;
    let mut up = exec(
        "up-1",
        "company.team",
        "trigger-flow",
        StateType::Success,
        &[("team", "data")],
        json!({}),
    );
    let mut run = saker_core::TaskRun::new(
        saker_core::TaskRunId::new("tr-1"),
        &up,
        "only",
        at("2025-01-06T10:00:00Z"),
    );
    run.outputs = Some(Map::from_iter([(
        "value".to_owned(),
        json!("from parents: up-1"),
    )]));
    up.task_run_list.push(run);
    // Other flows' executions and the wrong state do not fire it.
    h.scheduler.execution_changed(exec(
        "x",
        "company.team",
        "other",
        StateType::Success,
        &[],
        json!({}),
    ));
    let mut failed = up.clone();
    failed
        .state
        .transition(StateType::Failed, at("2025-01-06T10:00:00Z"));
    h.scheduler.execution_changed(failed);
    settle().await;
    assert!(h.launched().is_empty());
    h.scheduler.execution_changed(up);
    settle().await;
    let launched = h.launched();
    assert_eq!(launched.len(), 1);
    assert_eq!(
        launched[0].0.inputs["from-parent"],
        "from parents: up-1 / data"
    );
    assert_eq!(
        launched[0].0.trigger_type,
        "io.kestra.plugin.core.trigger.Flow"
    );
    assert_eq!(launched[0].0.variables["flowRevision"], 1);
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn deleting_a_trigger_state_starts_it_over_from_now() {
    let store = Arc::new(MemoryStore::new());
    let h = Harness::start(store, "2025-04-02T12:00:00Z", &[flow(WEEKLY)], None).await;
    let k = key("company.team", "weekly", "monday");
    h.scheduler
        .set_backfill(&k, at("2025-01-01T00:00:00Z"), None, Map::new(), None)
        .await
        .unwrap();
    h.scheduler.set_disabled(&k, true).await.unwrap();
    assert!(h.scheduler.delete_trigger(&k).await.unwrap());
    // A fresh state: no backfill, enabled as the YAML says, next Monday 09:00 Paris.
    let record = h.store.get_trigger(&k).await.unwrap().unwrap();
    assert!(!record.disabled);
    assert_eq!(ScheduleState::from_context(&record.context).backfill, None);
    assert_eq!(
        record.next_execution_date,
        Some(at("2025-04-07T09:00:00+02:00"))
    );
    let unknown = key("company.team", "weekly", "nope");
    assert!(!h.scheduler.delete_trigger(&unknown).await.unwrap());
    h.stop().await;
}

/// The launcher of a process that runs no triggers (the webserver component): it launches
/// nothing itself here, and reads flows as stored.
struct Api {
    stored: Vec<Arc<Flow>>,
}

impl ExecutionLauncher for Api {
    async fn launch(&self, _: LaunchRequest) -> Result<Execution, String> {
        Err("the API process runs no triggers".into())
    }

    fn warn(&self, _: &str, _: &str, _: &str, _: &str) {}

    async fn stored_flow(
        &self,
        namespace: &str,
        flow_id: &str,
    ) -> Result<Option<Arc<Flow>>, String> {
        Ok(self
            .stored
            .iter()
            .find(|f| f.namespace == namespace && f.id == flow_id)
            .cloned())
    }
}

/// A scheduler over `store` that never loads the triggers, as the webserver component's.
fn api_scheduler(
    store: &Arc<MemoryStore>,
    now: &str,
    stored: &[Arc<Flow>],
) -> Scheduler<MemoryStore, Api> {
    Scheduler::new(
        store.clone(),
        Arc::new(Api {
            stored: stored.to_vec(),
        }),
        Arc::new(TokioClock::starting_at(at(now))),
        Arc::new(TestServices),
        SchedulerConfig {
            owner: "webserver".into(),
            ..SchedulerConfig::default()
        },
    )
}

/// Backfills, pauses and `disabled` set by a process that runs no triggers are checked against
/// the stored flow, written under the lease, and run by the process that runs the trigger once
/// it is told (`trigger_changed`), not at the date it had in mind; each tick once.
#[tokio::test(start_paused = true)]
async fn api_changes_of_a_process_running_no_triggers_reach_the_one_that_does() {
    let store = Arc::new(MemoryStore::new());
    let hourly = hourly("NONE");
    let h = Harness::start(
        store.clone(),
        "2025-01-01T10:30:00Z",
        std::slice::from_ref(&hourly),
        Some(StateType::Success),
    )
    .await;
    let api = api_scheduler(
        &store,
        "2025-01-01T10:30:00Z",
        std::slice::from_ref(&hourly),
    );
    let k = key("company.team", "hourly", "every-hour");

    // Checked against the stored flow: unknown flows and triggers are not schedules.
    let unknown = api_scheduler(&store, "2025-01-01T10:30:00Z", &[]);
    let refused = unknown
        .set_backfill(&k, at("2025-01-01T07:00:00Z"), None, Map::new(), None)
        .await
        .unwrap_err();
    assert_eq!(
        refused.to_string(),
        "trigger every-hour is not a Schedule trigger"
    );

    let record = api
        .set_backfill(
            &k,
            at("2025-01-01T07:00:00Z"),
            Some(at("2025-01-01T09:00:00Z")),
            Map::new(),
            Some(&json!([{"key": "origin", "value": "backfill"}])),
        )
        .await
        .unwrap();
    assert!(
        ScheduleState::from_context(&record.context)
            .backfill
            .is_some()
    );
    assert_eq!(record.lease_owner, None);
    let stored = store.get_trigger(&k).await.unwrap().unwrap();
    assert_eq!((stored.lease_owner, stored.context), (None, record.context));
    // Untold, the runner looks again only at its next date (11:00).
    advance(Duration::from_secs(60)).await;
    assert!(h.dates().is_empty(), "{:?}", h.dates());
    h.scheduler.trigger_changed(&k).await.unwrap();
    settle().await;
    assert_eq!(
        h.dates(),
        [
            "2025-01-01T07:00:00Z",
            "2025-01-01T08:00:00Z",
            "2025-01-01T09:00:00Z"
        ]
    );
    assert!(
        h.launched()
            .iter()
            .all(|(r, _)| r.labels == [Label::new("origin", "backfill")])
    );

    // Paused by the API before it could run: told, the runner keeps still; unpaused, it runs.
    api.set_backfill(
        &k,
        at("2025-01-01T05:00:00Z"),
        Some(at("2025-01-01T06:00:00Z")),
        Map::new(),
        None,
    )
    .await
    .unwrap();
    api.pause_backfill(&k, true).await.unwrap();
    h.scheduler.trigger_changed(&k).await.unwrap();
    advance(Duration::from_secs(60)).await;
    assert_eq!(h.dates().len(), 3);
    api.pause_backfill(&k, false).await.unwrap();
    h.scheduler.trigger_changed(&k).await.unwrap();
    settle().await;
    assert_eq!(
        h.dates()[3..],
        ["2025-01-01T05:00:00Z", "2025-01-01T06:00:00Z"]
    );

    // Disabled then enabled again by the API (all changes told at once, as after a lost
    // connection): off, nothing at 11:00; on again, 12:00 fires.
    api.set_disabled(&k, true).await.unwrap();
    h.scheduler.triggers_changed().await.unwrap();
    advance(Duration::from_secs(40 * 60)).await;
    assert_eq!(h.dates().len(), 5);
    api.set_disabled(&k, false).await.unwrap();
    h.scheduler.triggers_changed().await.unwrap();
    advance(Duration::from_secs(60 * 60)).await;
    assert_eq!(h.dates()[5..], ["2025-01-01T12:00:00Z"]);

    // A deleted state is made again from the stored flow (next date from now), at once.
    assert!(api.delete_trigger(&k).await.unwrap());
    let fresh = store.get_trigger(&k).await.unwrap().unwrap();
    assert_eq!(fresh.next_execution_date, Some(at("2025-01-01T13:00:00Z")));
    assert!(
        !api.delete_trigger(&key("company.team", "hourly", "nope"))
            .await
            .unwrap()
    );
    h.stop().await;
}

/// The end of a trigger's execution heard while another process holds the trigger's lease
/// (the webserver's API, another scheduler) is applied once the lease is free: the schedule
/// does not wait for an execution that ended.
#[tokio::test(start_paused = true)]
async fn an_end_heard_while_the_lease_is_held_elsewhere_is_applied_later() {
    let store = Arc::new(MemoryStore::new());
    let h = Harness::start(
        store.clone(),
        "2025-01-01T09:59:00Z",
        &[hourly("NONE")],
        None,
    )
    .await;
    let k = key("company.team", "hourly", "every-hour");
    advance(Duration::from_secs(2 * 60)).await;
    let (_, running) = h.launched()[0].clone();
    let taken = store
        .acquire_trigger_lease(
            &k,
            "webserver",
            at("2025-01-01T10:03:00Z"),
            at("2025-01-01T10:01:00Z"),
        )
        .await
        .unwrap();
    assert!(taken.is_some());
    h.end(&running, StateType::Success).await;
    let state = ScheduleState::from_context(&store.get_trigger(&k).await.unwrap().unwrap().context);
    assert!(state.execution_id.is_some(), "the lease was held");
    advance(Duration::from_secs(3 * 60)).await;
    let state = ScheduleState::from_context(&store.get_trigger(&k).await.unwrap().unwrap().context);
    assert_eq!(state.execution_id, None);
    advance(Duration::from_secs(60 * 60)).await;
    assert_eq!(h.dates(), ["2025-01-01T10:00:00Z", "2025-01-01T11:00:00Z"]);
    h.stop().await;
}

/// An API operation waits a moment for a lease another process holds for an evaluation,
/// and answers "try again" when it stays held.
#[tokio::test(start_paused = true)]
async fn api_operations_wait_briefly_for_a_lease_held_elsewhere() {
    let store = Arc::new(MemoryStore::new());
    let hourly = hourly("NONE");
    let h = Harness::start(
        store.clone(),
        "2025-01-01T10:30:00Z",
        std::slice::from_ref(&hourly),
        None,
    )
    .await;
    let api = api_scheduler(
        &store,
        "2025-01-01T10:30:00Z",
        std::slice::from_ref(&hourly),
    );
    let k = key("company.team", "hourly", "every-hour");
    let hold = |seconds: i64| {
        let store = store.clone();
        let k = k.clone();
        async move {
            let now = at("2025-01-01T10:30:00Z");
            store
                .acquire_trigger_lease(
                    &k,
                    "scheduler",
                    now + chrono::TimeDelta::seconds(seconds),
                    now,
                )
                .await
                .unwrap()
                .unwrap()
        }
    };
    hold(1).await;
    let record = api.set_disabled(&k, true).await.unwrap();
    assert!(record.disabled);
    hold(30).await;
    let error = api.set_disabled(&k, false).await.unwrap_err();
    assert_eq!(
        error.to_string(),
        "trigger every-hour is being evaluated, try again"
    );
    h.stop().await;
}
