//! The registry of plugin types, built once from every [`Registration`].

use std::collections::HashMap;
use std::sync::OnceLock;

use saker_flow::catalog::{Catalog, PluginInfo};

use crate::plugin::Registration;
use crate::task::ErasedRunnable;

/// A problem in the set of registrations. Any of them is a programming error, caught by the
/// guard tests.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegistryError {
    #[error("plugin type name `{name}` is registered by both {first} and {second}")]
    DuplicateName {
        name: &'static str,
        first: &'static str,
        second: &'static str,
    },
    #[error("plugin `{type_name}` ({file}) has an empty title")]
    EmptyTitle {
        type_name: &'static str,
        file: &'static str,
    },
}

/// Every plugin type, looked up by current name or alias in O(1).
#[derive(Debug)]
pub struct Registry {
    registrations: Vec<&'static Registration>,
    by_name: HashMap<&'static str, &'static Registration>,
}

impl Registry {
    /// Builds the registry from every registration linked into the binary.
    pub fn build() -> Result<Registry, Vec<RegistryError>> {
        Self::from_registrations(inventory::iter::<Registration>)
    }

    /// Builds a registry from `registrations`, failing on duplicate names or empty titles.
    pub fn from_registrations(
        registrations: impl IntoIterator<Item = &'static Registration>,
    ) -> Result<Registry, Vec<RegistryError>> {
        let (registry, errors) = Self::build_lenient(registrations);
        if errors.is_empty() {
            Ok(registry)
        } else {
            Err(errors)
        }
    }

    /// The registry of every linked registration, built on first use. A duplicate name keeps the
    /// first registration in type-name order; `build()` reports it (see the guard tests).
    pub fn global() -> &'static Registry {
        static GLOBAL: OnceLock<Registry> = OnceLock::new();
        GLOBAL.get_or_init(|| Self::build_lenient(inventory::iter::<Registration>).0)
    }

    fn build_lenient(
        registrations: impl IntoIterator<Item = &'static Registration>,
    ) -> (Registry, Vec<RegistryError>) {
        let mut sorted: Vec<&'static Registration> = registrations.into_iter().collect();
        // inventory's order depends on link order; sorting makes lookups deterministic.
        sorted.sort_by_key(|registration| (registration.info.type_name, registration.file));
        let mut errors = Vec::new();
        let mut by_name: HashMap<&'static str, &'static Registration> = HashMap::new();
        let mut kept = Vec::with_capacity(sorted.len());
        for registration in sorted {
            let info = &registration.info;
            if info.title.trim().is_empty() {
                errors.push(RegistryError::EmptyTitle {
                    type_name: info.type_name,
                    file: registration.file,
                });
            }
            let names = std::iter::once(info.type_name).chain(info.aliases.iter().copied());
            let mut clash = false;
            for name in names.clone() {
                if let Some(first) = by_name.get(name) {
                    errors.push(RegistryError::DuplicateName {
                        name,
                        first: first.file,
                        second: registration.file,
                    });
                    clash = true;
                }
            }
            // A name listed twice by the same plugin is a duplicate as well.
            let mut own: Vec<&str> = names.clone().collect();
            own.sort_unstable();
            if let Some(pair) = own.windows(2).find(|pair| pair[0] == pair[1]) {
                errors.push(RegistryError::DuplicateName {
                    name: info
                        .aliases
                        .iter()
                        .copied()
                        .find(|a| *a == pair[0])
                        .unwrap_or(info.type_name),
                    first: registration.file,
                    second: registration.file,
                });
            }
            if clash {
                continue;
            }
            for name in names {
                by_name.insert(name, registration);
            }
            kept.push(registration);
        }
        (
            Registry {
                registrations: kept,
                by_name,
            },
            errors,
        )
    }

    /// Every registration kept, sorted by type name.
    pub fn registrations(&self) -> &[&'static Registration] {
        &self.registrations
    }

    /// Number of plugin types (not counting aliases).
    pub fn len(&self) -> usize {
        self.registrations.len()
    }

    pub fn is_empty(&self) -> bool {
        self.registrations.is_empty()
    }

    /// The run-time implementation of a task type (by current name or alias), if it has one.
    pub fn runnable(&self, type_name: &str) -> Option<&'static dyn ErasedRunnable> {
        self.by_name
            .get(type_name)
            .and_then(|registration| registration.runnable)
    }

    /// The registered name closest to an unknown `type_name`, for "did you mean" hints.
    pub fn suggest(&self, type_name: &str) -> Option<&'static str> {
        let (last_segment, _) = split_simple_name(type_name);
        self.by_name
            .keys()
            .map(|name| {
                let (candidate_last, _) = split_simple_name(name);
                // Weigh the simple class name most: `core.debug.Retrun` → `Return`.
                let score = strsim::jaro_winkler(type_name, name)
                    .max(strsim::jaro_winkler(last_segment, candidate_last) * 0.95);
                (score, *name)
            })
            .filter(|(score, _)| *score >= 0.85)
            .max_by(|a, b| a.0.total_cmp(&b.0).then_with(|| b.1.cmp(a.1)))
            .map(|(_, name)| name)
    }
}

fn split_simple_name(type_name: &str) -> (&str, &str) {
    match type_name.rsplit_once('.') {
        Some((package, simple)) => (simple, package),
        None => (type_name, ""),
    }
}

impl Catalog for Registry {
    fn get(&self, type_name: &str) -> Option<&PluginInfo> {
        self.by_name
            .get(type_name)
            .map(|registration| &registration.info)
    }

    fn plugins(&self) -> Vec<&PluginInfo> {
        self.registrations
            .iter()
            .map(|registration| &registration.info)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{IsoDuration, PluginKind, Property, Slot, TaskKind, register_plugin};
    use schemars::JsonSchema;
    use serde::Deserialize;

    /// Test plugin parameters.
    #[derive(Deserialize, JsonSchema)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    #[allow(dead_code)]
    struct SleepParams {
        /// How long.
        duration: Property<IsoDuration>,
    }

    register_plugin! {
        type_name: "test.Sleep",
        aliases: ["test.legacy.Sleep", "test.legacy.Wait"],
        kind: PluginKind::Task(TaskKind::Runnable),
        title: "Sleep for a while.",
        slots: [Slot::Tasks("errors")],
        params: SleepParams,
        runnable: TestSleep,
    }

    struct TestSleep;

    impl crate::RunnableTask for TestSleep {
        type Params = SleepParams;

        async fn run(
            params: SleepParams,
            ctx: &mut crate::RunContext,
        ) -> Result<crate::TaskOutcome, crate::TaskError> {
            let duration = ctx.render_property(&params.duration)?;
            Ok(crate::TaskOutcome::empty().with("seconds", duration.as_duration().as_secs()))
        }
    }

    fn check_nothing(_: &serde_json::Map<String, serde_json::Value>) -> Vec<crate::ParamError> {
        Vec::new()
    }

    fn empty_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({})
    }

    register_plugin!(PluginInfo {
        type_name: "test.Always",
        aliases: &[],
        kind: PluginKind::Condition,
        title: "Always true.",
        slots: &[],
        check: check_nothing,
        schema: empty_schema,
    });

    static DUPLICATE: Registration = Registration {
        info: PluginInfo {
            type_name: "test.Other",
            aliases: &["test.legacy.Sleep"],
            kind: PluginKind::Condition,
            title: " ",
            slots: &[],
            check: check_nothing,
            schema: empty_schema,
        },
        file: "other.rs",
        module: "tests",
        runnable: None,
    };

    #[test]
    fn global_has_no_errors_and_finds_aliases() {
        assert_eq!(
            Registry::build()
                .map(|r| r.len())
                .map_err(|e| format!("{e:?}")),
            Ok(2)
        );
        let registry = Registry::global();
        let sleep = registry.get("test.legacy.Wait").expect("alias");
        assert_eq!(sleep.type_name, "test.Sleep");
        assert!(std::ptr::eq(sleep, registry.get("test.Sleep").unwrap()));
        assert!(registry.get("test.Missing").is_none());
        assert_eq!(registry.plugins().len(), 2);
    }

    #[test]
    fn macro_derives_check_and_schema() {
        let info = Registry::global().get("test.Sleep").unwrap();
        let props = serde_json::json!({"duration": "PT1S"});
        assert!((info.check)(props.as_object().unwrap()).is_empty());
        let props = serde_json::json!({"duration": "PT1S", "errors": []});
        let errors = (info.check)(props.as_object().unwrap());
        // Slot properties are stripped by flow validation; here one leaks through on purpose:
        // the message still lists it as known.
        assert_eq!(errors.len(), 1);
        assert!(errors[0].message.contains("\"errors\""), "{errors:?}");
        let mut generator = schemars::SchemaGenerator::default();
        let schema = (info.schema)(&mut generator);
        assert!(
            schema
                .get("properties")
                .and_then(|p| p.get("duration"))
                .is_some(),
            "{schema:?}"
        );
    }

    #[test]
    fn duplicates_and_empty_titles_are_errors() {
        let all = inventory::iter::<Registration>
            .into_iter()
            .chain([&DUPLICATE]);
        let errors = Registry::from_registrations(all).unwrap_err();
        assert!(
            errors.iter().any(|e| matches!(
                e,
                RegistryError::DuplicateName {
                    name: "test.legacy.Sleep",
                    ..
                }
            )),
            "{errors:?}"
        );
        assert!(
            errors.iter().any(|e| matches!(
                e,
                RegistryError::EmptyTitle {
                    type_name: "test.Other",
                    ..
                }
            )),
            "{errors:?}"
        );
    }

    #[tokio::test]
    async fn runnables_are_found_by_name_and_alias() {
        let registry = Registry::global();
        assert!(registry.runnable("test.Always").is_none());
        let runnable = registry.runnable("test.legacy.Wait").expect("alias");
        let env = crate::memory::MemoryEnv::new(chrono::DateTime::UNIX_EPOCH);
        let mut ctx = env.context(
            crate::memory::test_info("t", "test.Sleep"),
            serde_json::json!({"inputs": {"d": "PT2M"}}),
        );
        let params = serde_json::json!({"duration": "{{ inputs.d }}"});
        let outcome = runnable
            .run(params.as_object().unwrap(), &mut ctx)
            .await
            .unwrap();
        assert_eq!(outcome.outputs["seconds"], 120);
    }

    #[test]
    fn suggests_close_names() {
        assert_eq!(Registry::global().suggest("test.Slep"), Some("test.Sleep"));
        assert_eq!(Registry::global().suggest("completely.Different"), None);
    }
}
