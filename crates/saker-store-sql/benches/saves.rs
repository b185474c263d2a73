//! Execution saves on the SQLite store (a file in a temporary directory, WAL):
//! - `save/header+1run`: one save of a header plus one changed task run (the runtime's usual
//!   write), awaited one after another;
//! - `drain/1000x3/...`: the writes of 1,000 executions of a 3-task flow (9 saves each: created,
//!   then each task created, running, succeeded, then the end), sequential or from 8 tasks.
//!
//! The server's goal is 1,000 such executions drained in 1 s. Run with
//! `cargo bench -p saker-store-sql --bench saves`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use saker_core::{Execution, StateType, TaskRun, TaskRunId};
use saker_storage::suite::{at, execution};
use saker_storage::{Changed, Store};
use saker_store_sql::SqliteStore;
use sqlx::Connection;
use sqlx::sqlite::SqliteConnection;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// Saves `e` after `step` changed it.
async fn step(store: &SqliteStore, e: &mut Execution, change: impl FnOnce(&mut Execution)) {
    let before = e.task_run_list.clone();
    change(e);
    let changed = Changed::between(&before, &e.task_run_list);
    store.save_execution(e, &changed).await.unwrap();
}

/// The 9 saves of one execution of a 3-task flow.
async fn lifecycle(store: &SqliteStore, id: &str) {
    let mut e = execution(id, "io.bench", "three", 0);
    store.save_execution(&e, &Changed::All).await.unwrap();
    for task in 0..3 {
        step(store, &mut e, |e| {
            let run = TaskRun::new(TaskRunId::new(format!("{id}-{task}")), e, "t", at(1));
            e.task_run_list.push(run);
            if task == 0 {
                e.transition(StateType::Running, at(1));
            }
        })
        .await;
        step(store, &mut e, |e| {
            e.task_run_list[task].transition(StateType::Running, at(2));
        })
        .await;
        if task == 2 {
            step(store, &mut e, |e| {
                e.task_run_list[task].transition(StateType::Success, at(3));
                e.transition(StateType::Success, at(4));
            })
            .await;
        } else {
            step(store, &mut e, |e| {
                e.task_run_list[task].transition(StateType::Success, at(3));
            })
            .await;
        }
    }
}

fn bench(c: &mut Criterion) {
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(
        rt.block_on(SqliteStore::open(dir.path().join("bench.db")))
            .unwrap(),
    );

    let mut group = c.benchmark_group("save");
    group.throughput(Throughput::Elements(1));
    group.bench_function("header+1run", |b| {
        let mut e = execution("single", "io.bench", "f", 0);
        for n in 0..3 {
            let run = TaskRun::new(TaskRunId::new(format!("r{n}")), &e, "t", at(1));
            e.task_run_list.push(run);
        }
        e.transition(StateType::Running, at(1));
        rt.block_on(store.save_execution(&e, &Changed::All))
            .unwrap();
        let changed = Changed::TaskRuns(vec![TaskRunId::new("r2")]);
        b.iter_custom(|iterations| {
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..iterations {
                    store.save_execution(&e, &changed).await.unwrap();
                }
                start.elapsed()
            })
        });
    });
    // Floors on this machine: one round trip to sqlx's SQLite thread, and an empty write
    // transaction (BEGIN IMMEDIATE + COMMIT), on a plain connection to the same file.
    let mut raw = rt
        .block_on(SqliteConnection::connect(&format!(
            "sqlite://{}",
            dir.path().join("bench.db").display()
        )))
        .unwrap();
    group.bench_function("floor/select1", |b| {
        b.iter_custom(|iterations| {
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..iterations {
                    sqlx::query("SELECT 1").execute(&mut raw).await.unwrap();
                }
                start.elapsed()
            })
        })
    });
    group.bench_function("floor/empty-tx", |b| {
        b.iter_custom(|iterations| {
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..iterations {
                    let tx = raw.begin_with("BEGIN IMMEDIATE").await.unwrap();
                    tx.commit().await.unwrap();
                }
                start.elapsed()
            })
        })
    });
    group.finish();
    rt.block_on(raw.close()).unwrap();

    let mut group = c.benchmark_group("drain");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(20));
    group.throughput(Throughput::Elements(1000));
    let mut round = 0;
    group.bench_function("1000x3/sequential", |b| {
        b.iter_custom(|iterations| {
            let mut total = Duration::ZERO;
            for _ in 0..iterations {
                round += 1;
                total += rt.block_on(async {
                    let start = Instant::now();
                    for n in 0..1000 {
                        lifecycle(&store, &format!("s{round}-{n}")).await;
                    }
                    start.elapsed()
                });
            }
            total
        })
    });
    group.bench_function("1000x3/8tasks", |b| {
        b.iter_custom(|iterations| {
            let mut total = Duration::ZERO;
            for _ in 0..iterations {
                round += 1;
                total += rt.block_on(async {
                    let start = Instant::now();
                    let tasks: Vec<_> = (0..8)
                        .map(|worker| {
                            let store = store.clone();
                            tokio::spawn(async move {
                                for n in (worker..1000).step_by(8) {
                                    lifecycle(&store, &format!("c{round}-{n}")).await;
                                }
                            })
                        })
                        .collect();
                    for task in tasks {
                        task.await.unwrap();
                    }
                    start.elapsed()
                });
            }
            total
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
