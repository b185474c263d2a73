//! Registering a plugin type, optionally with its run-time implementation ([`crate::task`]).

use saker_flow::catalog::PluginInfo;

use crate::task::ErasedRunnable;

/// One submitted plugin type, with where it was declared (for the registry's guard tests and
/// error messages).
#[derive(Debug)]
pub struct Registration {
    pub info: PluginInfo,
    /// `file!()` of the registering plugin file.
    pub file: &'static str,
    /// `module_path!()` of the registering plugin file.
    pub module: &'static str,
    /// How a worker runs the task, for runnable tasks that have a run-time implementation.
    pub runnable: Option<&'static dyn ErasedRunnable>,
}

impl std::fmt::Debug for dyn ErasedRunnable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ErasedRunnable")
    }
}

inventory::collect!(Registration);

/// Registers a plugin type with the global [`crate::Registry`].
///
/// The usual form derives `check` and `schema` from a `Params` struct:
///
/// ```ignore
/// register_plugin! {
///     type_name: "io.kestra.plugin.core.log.Log",
///     aliases: ["io.kestra.core.tasks.log.Log"],
///     kind: PluginKind::Task(TaskKind::Runnable),
///     title: "Log a message in the task logs.",
///     slots: [],
///     params: Params,
///     runnable: Log, // optional: a `RunnableTask<Params = Params>`
/// }
/// ```
///
/// A complete [`PluginInfo`] expression is also accepted: `register_plugin!(PluginInfo { .. })`.
#[macro_export]
macro_rules! register_plugin {
    (
        type_name: $type_name:expr,
        aliases: [$($alias:expr),* $(,)?],
        kind: $kind:expr,
        title: $title:expr,
        slots: [$($slot:expr),* $(,)?],
        params: $params:ty
        $(, runnable: $runnable:ty)? $(,)?
    ) => {
        const _: () = {
            const SLOTS: &[$crate::Slot] = &[$($slot),*];
            fn check(
                props: &$crate::__private::Map<::std::string::String, $crate::__private::Value>,
            ) -> ::std::vec::Vec<$crate::ParamError> {
                $crate::check_plugin_params::<$params>($type_name, $kind, SLOTS, props)
            }
            // The run-time `Params` must be the struct flow validation checks.
            $(const _: fn() = $crate::task::assert_params::<$runnable, $params>;)?
            $crate::inventory::submit! {
                $crate::Registration {
                    info: $crate::PluginInfo {
                        type_name: $type_name,
                        aliases: &[$($alias),*],
                        kind: $kind,
                        title: $title,
                        slots: SLOTS,
                        check,
                        schema: $crate::schema_of::<$params>,
                    },
                    file: file!(),
                    module: module_path!(),
                    runnable: $crate::__runnable!($($runnable)?),
                }
            }
        };
    };
    ($info:expr $(,)?) => {
        $crate::inventory::submit! {
            $crate::Registration {
                info: $info,
                file: file!(),
                module: module_path!(),
                runnable: None,
            }
        }
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __runnable {
    () => {
        None
    };
    ($runnable:ty) => {
        Some(&$crate::task::Erased::<$runnable>::NEW)
    };
}

#[doc(hidden)]
pub mod __private {
    pub use serde_json::{Map, Value};
}
