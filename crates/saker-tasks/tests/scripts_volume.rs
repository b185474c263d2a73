//! A script writing 100 MB to stdout, lines of several MB and binary output: the task streams
//! them line by line (memory stays flat) and logs every line, long ones cut with a note.
//! Alone in its test binary so that the process's peak memory is this test's.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use saker_task::log::{LogLine, LogSink};
use saker_task::memory::{MemoryEnv, test_info};
use saker_task::{Clock, RunContext, TaskRunnerDef};
use serde_json::json;

#[derive(Default)]
struct Counting {
    lines: AtomicU64,
    bytes: AtomicU64,
    longest: AtomicU64,
    notes: AtomicU64,
}

impl LogSink for Counting {
    fn emit(&self, line: LogLine) {
        self.lines.fetch_add(1, Ordering::Relaxed);
        self.bytes
            .fetch_add(line.message.len() as u64, Ordering::Relaxed);
        self.longest
            .fetch_max(line.message.len() as u64, Ordering::Relaxed);
        if line.message.contains("[line truncated: ") {
            self.notes.fetch_add(1, Ordering::Relaxed);
        }
    }
}

fn peak_rss_kb() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

#[tokio::test]
async fn large_outputs_stream_with_flat_memory() {
    let env = MemoryEnv::new(saker_core::time::parse_instant("2025-01-06T09:00:00Z").unwrap());
    let sink = Arc::new(Counting::default());
    let mut services = env.services();
    services.log_sink = sink.clone();
    let ty = "io.kestra.plugin.scripts.shell.Commands";
    let info = test_info("big", ty);
    let variables =
        serde_json::Value::Object(saker_task::context::base_variables(&info, env.clock.now()));
    let mut ctx = RunContext::new(info, variables, services, Default::default()).with_task_runner(
        Some(TaskRunnerDef {
            type_name: "io.kestra.plugin.core.runner.Process".into(),
            params: Default::default(),
        }),
    );
    let before = peak_rss_kb();
    let start = std::time::Instant::now();
    let params = json!({"commands": [
        // 100 MB in lines of 100 bytes.
        "head -c 99000000 /dev/zero | tr '\\0' x | fold -w 99",
        // Three lines of 3 MB, then 5 MB of binary noise.
        "for i in 1 2 3; do head -c 3000000 /dev/zero | tr '\\0' y; echo; done",
        "head -c 5000000 /dev/urandom; echo",
        "echo '::{\"outputs\":{\"done\":true}}::'"
    ]});
    let outcome = saker_tasks::registry()
        .runnable(ty)
        .unwrap()
        .run(params.as_object().unwrap(), &mut ctx)
        .await
        .unwrap();
    let took = start.elapsed();
    let growth_mb = (peak_rss_kb() - before) / 1024;
    assert_eq!(outcome.state, None);
    assert_eq!(outcome.outputs["vars"], json!({"done": true}));
    let lines = sink.lines.load(Ordering::Relaxed);
    assert!(lines > 1_000_000, "{lines} lines logged");
    assert!(
        sink.notes.load(Ordering::Relaxed) >= 3,
        "long lines are cut with a note"
    );
    assert!(
        sink.longest.load(Ordering::Relaxed) < 70 * 1024,
        "logged lines are capped"
    );
    eprintln!(
        "100 MB + 9 MB of long lines + 5 MB binary: {lines} lines, {} MB logged in {took:?}, peak RSS growth {growth_mb} MB",
        sink.bytes.load(Ordering::Relaxed) / 1_000_000
    );
    assert!(growth_mb < 64, "peak memory grew by {growth_mb} MB");
}
