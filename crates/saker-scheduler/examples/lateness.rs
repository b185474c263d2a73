//! Measures schedule lateness (launch time minus tick) with N flows whose Schedule fires every
//! second, over `MemoryStore`, on the wall clock. `cargo run -p saker-scheduler --example
//! lateness [--release] -- [flows] [seconds]` prints p50/p99/max and counts missed/doubled ticks.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use chrono::Utc;
use saker_core::{Execution, ExecutionId, ExecutionTrigger, FlowRef, Instant, StateType};
use saker_engine::NoEngineServices;
use saker_scheduler::{ExecutionLauncher, LaunchRequest, Scheduler, SchedulerConfig, SystemClock};
use saker_storage::MemoryStore;

type Sched = Scheduler<MemoryStore, Launcher>;

#[derive(Default)]
struct Launcher {
    seen: Mutex<Vec<(String, Instant, Instant)>>,
    scheduler: OnceLock<Sched>,
}

impl ExecutionLauncher for Launcher {
    async fn launch(&self, request: LaunchRequest) -> Result<Execution, String> {
        let now = Utc::now();
        let tick = request.schedule_date.expect("schedule");
        let f = &request.flow;
        let mut seen = self.seen.lock().unwrap();
        let mut e = Execution::new(
            ExecutionId::new(format!("e{}", seen.len())),
            &FlowRef::new(&f.namespace, &f.id, 1),
            &[],
            Vec::new(),
            now,
        );
        seen.push((f.id.clone(), tick, now));
        drop(seen);
        e.trigger = Some(ExecutionTrigger::new(
            &request.trigger_id,
            request.trigger_type,
            request.variables,
        ));
        let mut ended = e.clone();
        ended.state.transition(StateType::Running, now);
        ended.state.transition(StateType::Success, now);
        self.scheduler.get().expect("set").execution_changed(ended);
        Ok(e)
    }

    fn warn(&self, ns: &str, flow: &str, trigger: &str, message: &str) {
        eprintln!("warn {ns}.{flow}.{trigger}: {message}");
    }
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let flows: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(1000);
    let seconds: u64 = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(10);
    let store = Arc::new(MemoryStore::new());
    let launcher = Arc::new(Launcher::default());
    let scheduler = Scheduler::new(
        store,
        launcher.clone(),
        Arc::new(SystemClock),
        Arc::new(NoEngineServices),
        SchedulerConfig::default(),
    );
    let _ = launcher.scheduler.set(scheduler.clone());
    let parsed = (0..flows)
        .map(|i| {
            let yaml = format!(
                "id: f{i}\nnamespace: bench\ntasks:\n  - id: t\n    type: io.kestra.plugin.core.log.Log\n    message: hi\ntriggers:\n  - id: s\n    type: io.kestra.plugin.core.trigger.Schedule\n    cron: \"* * * * * *\"\n    withSeconds: true\n"
            );
            Arc::new(saker_flow::parse_and_validate(&yaml, None, saker_tasks::registry()).expect("valid"))
        })
        .collect();
    let started = Utc::now();
    scheduler.load(parsed).await.expect("load");
    let (stop, rx) = tokio::sync::oneshot::channel::<()>();
    let runner = scheduler.clone();
    let task = tokio::spawn(async move {
        runner
            .run(async move {
                let _ = rx.await;
            })
            .await
    });
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    let _ = stop.send(());
    task.await.expect("loop");
    let seen = launcher.seen.lock().unwrap().clone();
    let mut late: Vec<i64> = seen
        .iter()
        .map(|(_, tick, at)| (*at - *tick).num_microseconds().unwrap_or(i64::MAX))
        .collect();
    late.sort_unstable();
    let pct = |p: f64| {
        late.get(((late.len() as f64 * p) as usize).min(late.len().saturating_sub(1)))
            .copied()
            .unwrap_or(0) as f64
            / 1000.0
    };
    let unique: HashSet<(String, Instant)> = seen.iter().map(|(f, t, _)| (f.clone(), *t)).collect();
    // Every flow should fire once per whole second strictly after start-up, up to the last complete second.
    let first = started.timestamp() + 1;
    let last = started.timestamp() + seconds as i64 - 1;
    let expected_ticks = ((last - first - 1).max(0) as usize) * flows;
    let in_range = unique
        .iter()
        .filter(|(_, t)| t.timestamp() > first && t.timestamp() < last)
        .count();
    println!(
        "flows={flows} seconds={seconds} launches={} p50={:.2}ms p99={:.2}ms max={:.2}ms doubled={} ticks_in_range={in_range}/{expected_ticks}",
        seen.len(),
        pct(0.50),
        pct(0.99),
        pct(1.0),
        seen.len() - unique.len(),
    );
}
