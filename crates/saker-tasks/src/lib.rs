//! Every built-in plugin type: tasks, triggers, conditions and task runners, one file each.
//!
//! A plugin file declares a documented `Params` struct and registers itself with
//! [`saker_task::register_plugin!`]; nothing else needs editing to add a type. Binaries must call
//! [`registry`] (or otherwise reference this crate) so that the registrations are linked in.
#![deny(missing_docs)]

pub mod shared;

/// Task types (`tasks:` entries).
pub mod tasks {
    automod::dir!(pub "src/tasks");
}

/// Trigger types (`triggers:` entries).
pub mod triggers {
    automod::dir!(pub "src/triggers");
}

/// Condition types (trigger `conditions:` entries).
pub mod conditions {
    automod::dir!(pub "src/conditions");
}

/// Task runner types (`taskRunner:` of script tasks).
pub mod runners {
    automod::dir!(pub "src/runners");
}

use saker_task::Registry;

/// The registry of every plugin type, including this crate's. Use it as the
/// [`saker_flow::Catalog`] of flow validation.
pub fn registry() -> &'static Registry {
    Registry::global()
}

#[cfg(test)]
mod test_support {
    use saker_task::Catalog;
    use serde_json::Value;

    fn check(type_name: &str, props: Value) -> Vec<(String, String)> {
        let info = crate::registry()
            .get(type_name)
            .unwrap_or_else(|| panic!("{type_name} is not registered"));
        let Value::Object(props) = props else {
            panic!("props must be an object")
        };
        (info.check)(&props)
            .into_iter()
            .map(|error| (error.path, error.message))
            .collect()
    }

    /// Asserts that `props` are valid properties of `type_name`.
    #[track_caller]
    pub fn assert_valid(type_name: &str, props: Value) {
        let errors = check(type_name, props);
        assert!(
            errors.is_empty(),
            "{type_name}: unexpected errors {errors:?}"
        );
    }

    /// An in-memory environment at a fixed instant.
    pub fn env() -> saker_task::memory::MemoryEnv {
        saker_task::memory::MemoryEnv::new(
            saker_core::time::parse_instant("2025-01-06T09:00:00Z").expect("valid instant"),
        )
    }

    /// Runs `type_name` with `props` through the registry's erased form, with `extra` merged
    /// into the render context.
    pub async fn run(
        env: &saker_task::memory::MemoryEnv,
        type_name: &str,
        props: Value,
        extra: Value,
    ) -> Result<saker_task::TaskOutcome, saker_task::TaskError> {
        let info = saker_task::memory::test_info("task1", type_name);
        let mut ctx = env.context(info, extra);
        run_in(&mut ctx, type_name, props).await
    }

    /// Runs `type_name` with `props` in an existing context.
    pub async fn run_in(
        ctx: &mut saker_task::RunContext,
        type_name: &str,
        props: Value,
    ) -> Result<saker_task::TaskOutcome, saker_task::TaskError> {
        let runnable = crate::registry()
            .runnable(type_name)
            .unwrap_or_else(|| panic!("{type_name} has no run-time implementation"));
        let Value::Object(props) = props else {
            panic!("props must be an object")
        };
        runnable.run(&props, ctx).await
    }

    /// Asserts that `props` produce an error at `path` whose message contains `message`.
    #[track_caller]
    pub fn assert_invalid(type_name: &str, props: Value, path: &str, message: &str) {
        let errors = check(type_name, props);
        assert!(
            errors.iter().any(|(p, m)| p == path && m.contains(message)),
            "{type_name}: expected an error at {path:?} containing {message:?}, got {errors:?}"
        );
    }
}
