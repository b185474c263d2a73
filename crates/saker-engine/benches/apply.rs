//! The executor's hot path: one ForEach iteration (the worker's RUNNING report, then its
//! SUCCESS report, which makes the executor create and dispatch the next child) in an
//! execution that already holds `N` task runs. Flat figures across `N` mean an event costs
//! the same whatever the size of the execution (it used to grow linearly with it).
//!
//! `cargo bench -p saker-engine --bench apply`. For an instruction count under callgrind,
//! `SAKER_BENCH_STEPS=k SAKER_BENCH_RUNS=n` skips criterion and performs `k` iterations after
//! `n` runs (count with `--collect-atstart=no --toggle-collect='*measured_step*'`).

#[path = "../tests/common/mod.rs"]
mod common;

use std::hint::black_box;
use std::time::{Duration, Instant as Clock};

use chrono::TimeDelta;
use criterion::{BenchmarkId, Criterion, criterion_group};
use saker_core::{Execution, ExecutionId, FlowRef, Instant, SequentialIds, StateType, TaskRunId};
use saker_engine::{Action, Event, Executor, NoEngineServices, TaskRunResult};
use saker_expr::Value;
use saker_flow::Flow;

/// Values left after the first `runs`, so criterion's iterations rarely run out.
const SPARE: usize = 50_000;

struct Bench {
    /// Boxed: the executor recognises the flow of an execution by its address.
    flow: Box<Flow>,
    exec: Execution,
    executor: Executor,
    ids: SequentialIds,
    now: Instant,
    /// The child dispatched last, waiting for its reports.
    current: TaskRunId,
    left: usize,
}

impl Bench {
    /// A sequential ForEach over `runs + SPARE` values with a Return body, driven until it
    /// holds `runs` task runs.
    fn new(runs: usize) -> Bench {
        let values: Vec<String> = (0..runs + SPARE).map(|v| format!("\"{v}\"")).collect();
        let flow = common::flow(&format!(
            "tasks:\n  - id: each\n    type: io.kestra.plugin.core.flow.ForEach\n    \
             concurrencyLimit: 1\n    values: [{}]\n    tasks:\n      - id: ret\n        \
             type: io.kestra.plugin.core.debug.Return\n        format: \"{{{{ taskrun.value }}}}\"\n",
            values.join(",")
        ));
        let exec = Execution::new(
            ExecutionId::new("exec"),
            &FlowRef::new(&flow.namespace, &flow.id, 1),
            &[],
            Vec::new(),
            common::start(),
        );
        let mut bench = Bench {
            flow: Box::new(flow),
            exec,
            executor: Executor::new(),
            ids: SequentialIds::new(7),
            now: common::start(),
            current: TaskRunId::new(""),
            left: runs + SPARE,
        };
        let actions = bench.apply(Event::Created);
        bench.current = dispatched(&actions).expect("the first child is dispatched");
        while bench.exec.task_run_list.len() < runs {
            bench.step();
        }
        bench
    }

    fn apply(&mut self, event: Event) -> Vec<Action> {
        self.now += TimeDelta::milliseconds(1);
        self.executor.apply(
            &self.flow,
            &mut self.exec,
            event,
            self.now,
            &mut self.ids,
            &NoEngineServices,
        )
    }

    /// One iteration; false once the values are exhausted.
    fn step(&mut self) -> bool {
        let id = self.current.clone();
        self.apply(Event::TaskRunResult(TaskRunResult::running(id.clone())));
        let mut outputs = saker_core::JsonMap::new();
        outputs.insert("value".into(), Value::String("v".into()));
        let actions = self.apply(Event::TaskRunResult(TaskRunResult::ended(
            id,
            StateType::Success,
            Some(outputs),
        )));
        self.left -= 1;
        match dispatched(&actions) {
            Some(next) => {
                self.current = next;
                true
            }
            None => false,
        }
    }
}

fn dispatched(actions: &[Action]) -> Option<TaskRunId> {
    actions.iter().find_map(|action| match action {
        Action::Dispatch { task_run_id, .. } => Some(task_run_id.clone()),
        _ => None,
    })
}

#[inline(never)]
fn measured_step(bench: &mut Bench) -> bool {
    bench.step()
}

fn foreach_step(c: &mut Criterion) {
    let mut group = c.benchmark_group("foreach_step");
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(4));
    for runs in [100, 1_000, 10_000] {
        let mut bench = Bench::new(runs);
        group.bench_with_input(BenchmarkId::from_parameter(runs), &runs, |b, &runs| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    if bench.left < 2 {
                        bench = Bench::new(runs);
                    }
                    let start = Clock::now();
                    black_box(measured_step(&mut bench));
                    total += start.elapsed();
                }
                total
            });
        });
    }
    group.finish();
}

criterion_group!(benches, foreach_step);

fn main() {
    let env = |name: &str| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse::<usize>().ok())
    };
    if let (Some(steps), Some(runs)) = (env("SAKER_BENCH_STEPS"), env("SAKER_BENCH_RUNS")) {
        let mut bench = Bench::new(runs);
        for _ in 0..steps {
            black_box(measured_step(&mut bench));
        }
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
