//! The retention job: the server deletes ended executions (with their task runs, logs,
//! metrics and internal-storage files) and log lines older than the configured ages, every
//! `interval`, in bounded batches so a big purge never holds the store's writer for long.
//!
//! Ages are set globally and per namespace or flow ([`RetentionRule`]); for each kind of data
//! the most specific rule that sets an age wins, so a rule `company.team: P90D` keeps that
//! namespace's executions longer than a global `P30D`, and a flow rule beats its namespace's.
//! Kestra OSS has no such setting (it documents a system flow running `PurgeExecutions` and
//! `PurgeLogs` on a schedule); this is the same deletion, run by the server itself.

use std::time::Duration;

use saker_core::Instant;
use saker_storage::{ExecutionPurge, LogPurge, Scope, Store};
use saker_task::storage::Storage;

/// Kestra's examples purge daily; an hour keeps each pass small.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(3600);

/// Executions (or log lines) deleted per transaction.
pub const DEFAULT_BATCH_SIZE: u32 = 500;

/// What the retention job deletes and how often (`retention.*` in the configuration).
#[derive(Debug, Clone, PartialEq)]
pub struct RetentionConfig {
    pub interval: Duration,
    pub batch_size: u32,
    /// Ended executions older than this (by end date) go, with everything that belongs to them.
    pub executions: Option<Duration>,
    /// Log lines older than this go, whatever their execution (Kestra's `PurgeLogs`).
    pub logs: Option<Duration>,
    /// Ages of namespaces and flows, overriding the global ones.
    pub rules: Vec<RetentionRule>,
}

impl Default for RetentionConfig {
    fn default() -> Self {
        RetentionConfig {
            interval: DEFAULT_INTERVAL,
            batch_size: DEFAULT_BATCH_SIZE,
            executions: None,
            logs: None,
            rules: Vec::new(),
        }
    }
}

/// The ages of one namespace (and its children) or one flow; an age left unset follows the
/// enclosing rule, or the global age.
#[derive(Debug, Clone, PartialEq)]
pub struct RetentionRule {
    pub scope: Scope,
    pub executions: Option<Duration>,
    pub logs: Option<Duration>,
}

/// What one pass deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Purged {
    pub executions: u64,
    pub logs: u64,
}

/// One deletion of a pass: the scope (everything when `None`), the age, and the more specific
/// scopes that set their own age and are left to their own pass.
#[derive(Debug, Clone, PartialEq)]
struct Plan {
    scope: Option<Scope>,
    age: Duration,
    except: Vec<Scope>,
}

impl RetentionConfig {
    /// Whether the job has anything to do.
    pub fn is_enabled(&self) -> bool {
        self.executions.is_some()
            || self.logs.is_some()
            || self
                .rules
                .iter()
                .any(|r| r.executions.is_some() || r.logs.is_some())
    }

    /// The plans of one kind of data (`age` picks the executions or the logs age of a rule).
    fn plans(
        &self,
        global: Option<Duration>,
        age: fn(&RetentionRule) -> Option<Duration>,
    ) -> Vec<Plan> {
        let scoped: Vec<(&Scope, Duration)> = self
            .rules
            .iter()
            .filter_map(|rule| age(rule).map(|age| (&rule.scope, age)))
            .collect();
        let inside = |outer: Option<&Scope>| -> Vec<Scope> {
            scoped
                .iter()
                .filter(|(scope, _)| outer.is_none_or(|outer| scope.is_inside(outer)))
                .map(|(scope, _)| (*scope).clone())
                .collect()
        };
        let mut plans = Vec::new();
        if let Some(age) = global {
            plans.push(Plan {
                scope: None,
                age,
                except: inside(None),
            });
        }
        for (scope, age) in &scoped {
            plans.push(Plan {
                scope: Some((*scope).clone()),
                age: *age,
                except: inside(Some(scope)),
            });
        }
        plans
    }
}

fn cutoff(now: Instant, age: Duration) -> Instant {
    chrono::TimeDelta::from_std(age)
        .ok()
        .and_then(|age| now.checked_sub_signed(age))
        .unwrap_or(chrono::DateTime::<chrono::Utc>::MIN_UTC)
}

/// One pass: every plan, batch after batch until nothing matches. The internal-storage files
/// of each deleted execution (`kestra:///ns/flow/executions/<id>/`) are deleted after its rows:
/// a failure there leaves orphan files, never an execution pointing at missing files.
pub async fn run_once<S: Store>(
    store: &S,
    files: &dyn Storage,
    config: &RetentionConfig,
    now: Instant,
) -> Result<Purged, String> {
    let batch = config.batch_size.max(1);
    let mut purged = Purged::default();
    for plan in config.plans(config.executions, |r| r.executions) {
        let purge = ExecutionPurge {
            scope: plan.scope,
            except: plan.except,
            ..ExecutionPurge::ended_before(cutoff(now, plan.age))
        };
        loop {
            let deleted = store
                .purge_executions(&purge, batch)
                .await
                .map_err(|e| format!("cannot purge executions: {e}"))?;
            if deleted.is_empty() {
                break;
            }
            purged.executions += deleted.len() as u64;
            for execution in &deleted {
                let prefix = saker_task::storage::execution_prefix(
                    &execution.namespace,
                    &execution.flow_id,
                    &execution.id,
                );
                files.delete_by_prefix(&prefix).await.map_err(|e| {
                    format!("cannot delete the files of execution {}: {e}", execution.id)
                })?;
            }
            // Let the executor's saves in between two batches.
            tokio::task::yield_now().await;
        }
    }
    for plan in config.plans(config.logs, |r| r.logs) {
        let purge = LogPurge {
            scope: plan.scope,
            except: plan.except,
            ..LogPurge::before(cutoff(now, plan.age))
        };
        loop {
            let deleted = store
                .purge_logs(&purge, batch)
                .await
                .map_err(|e| format!("cannot purge logs: {e}"))?;
            if deleted == 0 {
                break;
            }
            purged.logs += deleted;
            tokio::task::yield_now().await;
        }
    }
    Ok(purged)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use saker_core::{Execution, ExecutionId, FlowRef, StateType};
    use saker_storage::{Changed, LogEntry, LogFilter, MemoryStore};
    use saker_task::Level;
    use saker_task::memory::MemoryStorage;

    use super::*;

    const DAY: Duration = Duration::from_secs(86_400);

    fn now() -> Instant {
        saker_core::time::parse_instant("2026-06-01T00:00:00Z").unwrap()
    }

    fn days_ago(days: i64) -> Instant {
        now() - chrono::TimeDelta::days(days)
    }

    async fn ended(store: &MemoryStore, id: &str, ns: &str, flow: &str, days: i64) {
        let mut e = Execution::new(
            ExecutionId::new(id),
            &FlowRef::new(ns, flow, 1),
            &[],
            Vec::new(),
            days_ago(days + 1),
        );
        e.transition(StateType::Success, days_ago(days));
        store.save_execution(&e, &Changed::All).await.unwrap();
        store
            .append_logs(&[LogEntry {
                namespace: ns.into(),
                flow_id: flow.into(),
                task_id: None,
                execution_id: id.into(),
                task_run_id: None,
                attempt_number: None,
                timestamp: days_ago(days),
                level: Level::Info,
                thread: "t".into(),
                message: id.into(),
            }])
            .await
            .unwrap();
    }

    fn scope(ns: &str, flow: Option<&str>) -> Scope {
        Scope {
            namespace: ns.into(),
            flow_id: flow.map(str::to_owned),
        }
    }

    async fn kept(store: &MemoryStore, ids: &[&str]) -> Vec<String> {
        let mut kept = Vec::new();
        for id in ids {
            if store
                .get_execution(&ExecutionId::new(*id))
                .await
                .unwrap()
                .is_some()
            {
                kept.push((*id).to_owned());
            }
        }
        kept
    }

    #[tokio::test]
    async fn the_most_specific_age_wins_and_files_go_with_their_execution() {
        let store = MemoryStore::new();
        let files = Arc::new(MemoryStorage::new());
        ended(&store, "global-old", "io.x", "f", 40).await;
        ended(&store, "global-new", "io.x", "f", 20).await;
        ended(&store, "team-old", "io.team", "f", 100).await;
        ended(&store, "team-kept", "io.team.sub", "f", 60).await;
        ended(&store, "noisy", "io.team", "noisy", 3).await;
        ended(&store, "noisy-new", "io.team", "noisy", 0).await;
        let uri = |id: &str, ns: &str, flow: &str| {
            format!(
                "{}out.txt",
                saker_task::storage::execution_prefix(ns, flow, id)
            )
        };
        files
            .put(&uri("global-old", "io.x", "f"), b"gone".to_vec())
            .await
            .unwrap();
        files
            .put(&uri("global-new", "io.x", "f"), b"kept".to_vec())
            .await
            .unwrap();
        let config = RetentionConfig {
            executions: Some(30 * DAY),
            logs: None,
            rules: vec![
                RetentionRule {
                    scope: scope("io.team", None),
                    executions: Some(90 * DAY),
                    logs: None,
                },
                RetentionRule {
                    scope: scope("io.team", Some("noisy")),
                    executions: Some(DAY),
                    logs: None,
                },
            ],
            batch_size: 1,
            ..RetentionConfig::default()
        };
        let purged = run_once(&store, &*files, &config, now()).await.unwrap();
        assert_eq!(
            purged,
            Purged {
                executions: 3,
                logs: 0
            }
        );
        let all = [
            "global-old",
            "global-new",
            "team-old",
            "team-kept",
            "noisy",
            "noisy-new",
        ];
        assert_eq!(
            kept(&store, &all).await,
            ["global-new", "team-kept", "noisy-new"]
        );
        assert!(!files.exists(&uri("global-old", "io.x", "f")).await.unwrap());
        assert!(files.exists(&uri("global-new", "io.x", "f")).await.unwrap());
        // A second pass finds nothing more.
        let again = run_once(&store, &*files, &config, now()).await.unwrap();
        assert_eq!(again, Purged::default());
    }

    #[tokio::test]
    async fn log_ages_are_separate_from_execution_ages() {
        let store = MemoryStore::new();
        let files = MemoryStorage::new();
        ended(&store, "a", "io.x", "f", 10).await;
        ended(&store, "b", "io.keep", "f", 10).await;
        ended(&store, "c", "io.x", "f", 1).await;
        let config = RetentionConfig {
            logs: Some(7 * DAY),
            rules: vec![RetentionRule {
                scope: scope("io.keep", None),
                executions: None,
                logs: Some(365 * DAY),
            }],
            ..RetentionConfig::default()
        };
        assert!(config.is_enabled());
        let purged = run_once(&store, &files, &config, now()).await.unwrap();
        assert_eq!(
            purged,
            Purged {
                executions: 0,
                logs: 1
            }
        );
        assert_eq!(kept(&store, &["a", "b", "c"]).await, ["a", "b", "c"]);
        assert!(
            store
                .logs(&LogFilter::execution("a"))
                .await
                .unwrap()
                .is_empty()
        );
        assert_eq!(
            store.logs(&LogFilter::execution("b")).await.unwrap().len(),
            1
        );
        assert!(!RetentionConfig::default().is_enabled());
    }
}
