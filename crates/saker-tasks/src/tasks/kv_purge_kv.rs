//! `io.kestra.plugin.core.kv.PurgeKV`: deletes keys matching patterns from one or several namespace KV stores.

use saker_task::prelude::*;

/// Properties of `PurgeKV`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Params {
    /// Glob pattern of the keys to delete.
    pub key_pattern: Option<Property<String>>,
    /// Namespaces to purge.
    pub namespaces: Option<Property<Vec<String>>>,
    /// Glob pattern of the namespaces to purge.
    pub namespace_pattern: Option<Property<String>>,
    /// Delete only expired keys (default true). Deprecated in Kestra 1.1 for `behavior`, and
    /// wins over it when both are set.
    pub expired_only: Option<Property<bool>>,
    /// How keys are purged (default `{type: key, expiredOnly: true}`).
    pub behavior: Option<Property<Behavior>>,
    /// Include child namespaces (default true).
    pub include_child_namespaces: Option<Property<bool>>,
}

/// `behavior` of `PurgeKV`, told apart by `type`.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum Behavior {
    /// Purge whole keys.
    #[serde(rename_all = "camelCase")]
    Key {
        /// Delete only expired keys (default true).
        #[serde(default = "expired_only_default")]
        expired_only: bool,
    },
    /// Purge old versions of each key (Kestra's versioned KV store). Accepted so such flows
    /// load, refused when run: Saker keeps a single version per key.
    Version(serde_json::Map<String, Value>),
}

fn expired_only_default() -> bool {
    true
}

/// Runs `kv.PurgeKV`.
pub struct PurgeKv;

impl RunnableTask for PurgeKv {
    type Params = Params;

    async fn run(params: Params, ctx: &mut RunContext) -> Result<TaskOutcome, TaskError> {
        let namespaces = ctx.render_opt(&params.namespaces)?.unwrap_or_default();
        let namespace_pattern = ctx
            .render_opt(&params.namespace_pattern)?
            .filter(|pattern| !pattern.trim().is_empty());
        if !namespaces.is_empty() && namespace_pattern.is_some() {
            return Err(TaskError::Failed(
                "Properties `namespaces` and `namespacePattern` can't be used at the same time — use one or the other."
                    .to_owned(),
            ));
        }
        let include_children = ctx
            .render_opt(&params.include_child_namespaces)?
            .unwrap_or(true);
        let expired_only = match ctx.render_opt(&params.expired_only)? {
            Some(expired_only) => expired_only,
            None => match ctx.render_opt(&params.behavior)? {
                None => true,
                Some(Behavior::Key { expired_only }) => expired_only,
                Some(Behavior::Version(_)) => {
                    return Err(TaskError::Failed(
                        "`behavior` of type `version` is not supported: Saker's KV store keeps one version per key (use type `key`)"
                            .to_owned(),
                    ));
                }
            },
        };
        let key_pattern = ctx
            .render_opt(&params.key_pattern)?
            .filter(|pattern| !pattern.trim().is_empty());

        let now = ctx.now();
        let kv = ctx.kv();
        // Kestra takes the namespaces of its flows; the namespaces holding KV entries are the
        // ones a purge can change, including those whose flows were deleted.
        let selected: Vec<String> = kv
            .namespaces()
            .await
            .map_err(TaskError::failed)?
            .into_iter()
            .filter(|ns| match &namespace_pattern {
                Some(pattern) => wildcard_match(pattern, ns),
                None if namespaces.is_empty() => true,
                None => namespaces.iter().any(|wanted| {
                    ns == wanted
                        || (include_children
                            && ns
                                .strip_prefix(wanted.as_str())
                                .is_some_and(|rest| rest.starts_with('.')))
                }),
            })
            .collect();
        ctx.logger().info(format!(
            "purging {} namespaces: [{}]",
            selected.len(),
            selected.join(", ")
        ));

        let mut purged: u64 = 0;
        for ns in &selected {
            let mut candidates = kv.list_expired(ns, now).await.map_err(TaskError::failed)?;
            if !expired_only {
                candidates.extend(kv.list(ns, now).await.map_err(TaskError::failed)?);
            }
            for meta in candidates {
                if key_pattern
                    .as_deref()
                    .is_some_and(|pattern| !wildcard_match(pattern, &meta.key))
                {
                    continue;
                }
                // An expired-only purge must spare a key re-written since it was listed.
                let deleted = if expired_only {
                    kv.delete_expired(ns, &meta.key, now).await
                } else {
                    kv.delete(ns, &meta.key).await
                };
                if deleted.map_err(TaskError::failed)? {
                    purged += 1;
                }
            }
        }
        ctx.logger().info(format!("purged {purged} keys"));
        Ok(TaskOutcome::empty().with("size", purged))
    }
}

/// Kestra's wildcard match (commons-io `FilenameUtils.wildcardMatch`, case-sensitive): `*` is
/// any run of characters, `?` exactly one, everything else literal.
fn wildcard_match(pattern: &str, text: &str) -> bool {
    let pattern: Vec<char> = pattern.chars().collect();
    let text: Vec<char> = text.chars().collect();
    // Greedy matching with backtracking to the last `*`: linear in practice, no recursion.
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some('*') => {
                star = Some((p, t));
                p += 1;
            }
            Some(&c) if c == '?' || c == text[t] => {
                p += 1;
                t += 1;
            }
            _ => match star {
                Some((star_p, star_t)) => {
                    p = star_p + 1;
                    t = star_t + 1;
                    star = Some((star_p, star_t + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|&c| c == '*')
}

register_plugin! {
    type_name: "io.kestra.plugin.core.kv.PurgeKV",
    aliases: [],
    kind: PluginKind::Task(TaskKind::Runnable),
    title: "Delete keys from KV stores in bulk.",
    slots: [],
    params: Params,
    runnable: PurgeKv,
}

#[cfg(test)]
mod tests {
    use super::wildcard_match;
    use crate::test_support::{assert_invalid, assert_valid, env, run};
    use saker_task::context::Clock;
    use saker_task::kv::{KvPut, KvStore, KvValue};
    use serde_json::{Value, json};

    const PURGE: &str = "io.kestra.plugin.core.kv.PurgeKV";

    #[test]
    fn wildcards() {
        for (pattern, text) in [("AI_*", "AI_key"), ("a?c", "abc"), ("*", ""), ("*.b*", "x.b")] {
            assert!(wildcard_match(pattern, text), "{pattern} {text}");
        }
        for (pattern, text) in [("AI_*", "ai_key"), ("a?c", "ac"), ("a", "ab"), ("*.b", "x.bc")] {
            assert!(!wildcard_match(pattern, text), "{pattern} {text}");
        }
    }

    /// Every `(namespace, key)` left in the store, expired or not.
    async fn remaining(env: &saker_task::memory::MemoryEnv) -> Vec<String> {
        let now = env.clock.now();
        let mut left = Vec::new();
        for ns in env.kv.namespaces().await.unwrap() {
            let mut metas = env.kv.list(&ns, now).await.unwrap();
            metas.extend(env.kv.list_expired(&ns, now).await.unwrap());
            left.extend(metas.into_iter().map(|meta| format!("{ns}/{}", meta.key)));
        }
        left.sort();
        left
    }

    /// `(namespace, key, expired)` entries at the environment's instant.
    async fn seed(env: &saker_task::memory::MemoryEnv, entries: &[(&str, &str, bool)]) {
        let now = env.clock.now();
        for &(ns, key, expired) in entries {
            let put = KvPut {
                value: KvValue::new(json!(1)),
                description: None,
                expiration: Some(now + chrono::TimeDelta::seconds(if expired { -1 } else { 60 })),
                overwrite: true,
            };
            env.kv
                .put(ns, key, put, now - chrono::TimeDelta::seconds(10))
                .await
                .unwrap();
        }
    }

    async fn purge(env: &saker_task::memory::MemoryEnv, props: Value) -> Value {
        run(env, PURGE, props, json!({})).await.unwrap().outputs["size"].clone()
    }

    const ENTRIES: &[(&str, &str, bool)] = &[
        ("company", "AI_old", true),
        ("company", "AI_new", false),
        ("company", "other", true),
        ("company.team", "AI_old", true),
        ("companyx", "AI_old", true),
        ("else", "AI_old", true),
    ];

    #[tokio::test]
    async fn purges_expired_keys_of_namespaces_and_their_children() {
        let env = env();
        seed(&env, ENTRIES).await;
        assert_eq!(purge(&env, json!({"namespaces": ["company"]})).await, json!(3));
        assert_eq!(
            remaining(&env).await,
            ["company/AI_new", "companyx/AI_old", "else/AI_old"]
        );
        let logs: Vec<String> = env.logs.lines().into_iter().map(|line| line.message).collect();
        assert!(
            logs.iter().any(|line| line == "purging 2 namespaces: [company, company.team]"),
            "{logs:?}"
        );
        assert!(logs.iter().any(|line| line == "purged 3 keys"), "{logs:?}");
    }

    #[tokio::test]
    async fn filters_keys_and_namespaces() {
        let env = env();
        seed(&env, ENTRIES).await;
        let without_children = json!({
            "namespaces": ["company"], "includeChildNamespaces": false,
            "keyPattern": "AI_*", "expiredOnly": false,
        });
        assert_eq!(purge(&env, without_children).await, json!(2));
        assert_eq!(
            remaining(&env).await,
            ["company.team/AI_old", "company/other", "companyx/AI_old", "else/AI_old"]
        );
        let by_behavior = json!({"namespacePattern": "company*", "behavior": {"type": "key"}});
        assert_eq!(purge(&env, by_behavior).await, json!(3));
        assert_eq!(remaining(&env).await, ["else/AI_old"]);
        // Neither property: every namespace.
        assert_eq!(purge(&env, json!({})).await, json!(1));
        assert!(remaining(&env).await.is_empty());
    }

    #[tokio::test]
    async fn expired_only_wins_over_behavior() {
        let env = env();
        seed(&env, ENTRIES).await;
        let all_keys = json!({"namespaces": ["else"], "behavior": {"type": "key", "expiredOnly": false}});
        assert_eq!(purge(&env, all_keys).await, json!(1));
        let expired_only = json!({
            "namespaces": ["company"], "expiredOnly": true,
            "behavior": {"type": "key", "expiredOnly": false},
        });
        assert_eq!(purge(&env, expired_only).await, json!(3));
        assert_eq!(remaining(&env).await, ["company/AI_new", "companyx/AI_old"]);
        let version = json!({"behavior": {"type": "version", "keepAmount": 1}});
        let error = run(&env, PURGE, version, json!({})).await.unwrap_err();
        assert!(error.to_string().contains("type `version` is not supported"), "{error}");
        assert_eq!(remaining(&env).await, ["company/AI_new", "companyx/AI_old"]);
    }

    #[test]
    fn behavior_is_checked() {
        assert_valid(PURGE, json!({"behavior": {"type": "key", "expiredOnly": false}}));
        assert_valid(PURGE, json!({"behavior": {"type": "version", "keepAmount": 2}}));
        let typo = json!({"behavior": {"type": "key", "expiredonly": false}});
        assert_invalid(PURGE, typo, "behavior.expiredonly", "Unrecognized field");
        assert_invalid(PURGE, json!({"behavior": {"type": "nope"}}), "behavior.type", "unknown variant `nope`");
    }

    #[tokio::test]
    async fn rejects_both_namespace_selectors() {
        let env = env();
        let error = run(
            &env,
            PURGE,
            json!({"namespaces": ["a"], "namespacePattern": "a*"}),
            json!({}),
        )
        .await
        .unwrap_err();
        assert!(error.to_string().contains("can't be used at the same time"), "{error}");
    }
}
