//! Execution saves on the SQLite store (a file in a temporary directory, WAL) and, when its
//! server answers (`SAKER_TEST_PG_URL`, default the local one), on the PostgreSQL store (a
//! database created for the run, dropped after):
//! - `save/header+1run`: one save of a header plus one changed task run (the runtime's usual
//!   write), awaited one after another;
//! - `batch/100`: one `save_executions` of 100 executions, a changed run each (the runtime's
//!   batched save);
//! - `drain/1000x3/...`: the writes of 1,000 executions of a 3-task flow (9 saves each: created,
//!   then each task created, running, succeeded, then the end), sequential or from 8 tasks.
//!
//! PostgreSQL groups are prefixed `pg/`. The server's goal is 1,000 such executions drained in
//! 1 s. Run with `cargo bench -p saker-store-sql --bench saves`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use saker_core::{Execution, StateType, TaskRun, TaskRunId};
use saker_storage::suite::{at, execution};
use saker_storage::{Changed, Store};
use saker_store_sql::testing::TestDatabase;
use saker_store_sql::{PgStore, SqliteStore};
use sqlx::sqlite::SqliteConnection;
use sqlx::{Connection, PgConnection};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// Saves `e` after `step` changed it.
async fn step<S: Store>(store: &S, e: &mut Execution, change: impl FnOnce(&mut Execution)) {
    let before = e.task_run_list.clone();
    change(e);
    let changed = Changed::between(&before, &e.task_run_list);
    store.save_execution(e, &changed).await.unwrap();
}

/// The 9 saves of one execution of a 3-task flow.
async fn lifecycle<S: Store>(store: &S, id: &str) {
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

/// `header+1run` and `batch/100` in group `{prefix}save`.
fn bench_saves<S: Store>(c: &mut Criterion, rt: &tokio::runtime::Runtime, prefix: &str, store: &S) {
    let mut group = c.benchmark_group(format!("{prefix}save"));
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
    group.throughput(Throughput::Elements(100));
    group.bench_function("batch/100", |b| {
        let batch: Vec<Execution> = (0..100)
            .map(|n| {
                let mut e = execution(&format!("batch-{n}"), "io.bench", "f", 0);
                for r in 0..3 {
                    let run = TaskRun::new(TaskRunId::new(format!("b{n}-r{r}")), &e, "t", at(1));
                    e.task_run_list.push(run);
                }
                e.transition(StateType::Running, at(1));
                e
            })
            .collect();
        let all: Vec<(&Execution, &Changed)> = batch.iter().map(|e| (e, &Changed::All)).collect();
        rt.block_on(store.save_executions(&all)).unwrap();
        let deltas: Vec<Changed> = batch
            .iter()
            .map(|e| Changed::TaskRuns(vec![e.task_run_list[2].id.clone()]))
            .collect();
        let items: Vec<(&Execution, &Changed)> = batch.iter().zip(&deltas).collect();
        b.iter_custom(|iterations| {
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..iterations {
                    store.save_executions(&items).await.unwrap();
                }
                start.elapsed()
            })
        });
    });
    group.finish();
}

/// `1000x3/sequential` and `1000x3/8tasks` in group `{prefix}drain`.
fn bench_drain<S: Store>(
    c: &mut Criterion,
    rt: &tokio::runtime::Runtime,
    prefix: &str,
    store: &Arc<S>,
) {
    let mut group = c.benchmark_group(format!("{prefix}drain"));
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
                        lifecycle(&**store, &format!("s{round}-{n}")).await;
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
                                    lifecycle(&*store, &format!("c{round}-{n}")).await;
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

fn bench(c: &mut Criterion) {
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(
        rt.block_on(SqliteStore::open(dir.path().join("bench.db")))
            .unwrap(),
    );
    bench_saves(c, &rt, "", &*store);

    // Floors on this machine: one round trip to sqlx's SQLite thread, and an empty write
    // transaction (BEGIN IMMEDIATE + COMMIT), on a plain connection to the same file.
    let mut group = c.benchmark_group("floor");
    let mut raw = rt
        .block_on(SqliteConnection::connect(&format!(
            "sqlite://{}",
            dir.path().join("bench.db").display()
        )))
        .unwrap();
    group.bench_function("select1", |b| {
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
    group.bench_function("empty-tx", |b| {
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

    bench_drain(c, &rt, "", &store);
    rt.block_on(store.close());

    // PostgreSQL, when its server answers.
    let reachable = rt.block_on(async {
        tokio::time::timeout(
            Duration::from_secs(5),
            PgConnection::connect(&saker_store_sql::testing::admin_url()),
        )
        .await
        .is_ok_and(|conn| conn.is_ok())
    });
    if !reachable {
        eprintln!(
            "PostgreSQL benches skipped: no server at {}",
            saker_store_sql::testing::admin_url()
        );
        return;
    }
    let database = rt.block_on(TestDatabase::create());
    let store = Arc::new(rt.block_on(PgStore::connect(database.url())).unwrap());
    bench_saves(c, &rt, "pg/", &*store);
    // A round trip on a pooled connection: the floor of every PostgreSQL operation.
    let mut group = c.benchmark_group("pg/floor");
    group.bench_function("select1", |b| {
        b.iter_custom(|iterations| {
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..iterations {
                    sqlx::query("SELECT 1").execute(store.pool()).await.unwrap();
                }
                start.elapsed()
            })
        })
    });
    group.finish();
    bench_drain(c, &rt, "pg/", &store);
    rt.block_on(store.close());
    drop(database);
}

criterion_group!(benches, bench);
criterion_main!(benches);
