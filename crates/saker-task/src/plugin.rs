//! Registering a plugin type. The run-time trait (`Task::run`) will sit beside this module.

use saker_flow::catalog::PluginInfo;

/// One submitted plugin type, with where it was declared (for the registry's guard tests and
/// error messages).
#[derive(Debug)]
pub struct Registration {
    pub info: PluginInfo,
    /// `file!()` of the registering plugin file.
    pub file: &'static str,
    /// `module_path!()` of the registering plugin file.
    pub module: &'static str,
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
        params: $params:ty $(,)?
    ) => {
        const _: () = {
            const SLOTS: &[$crate::Slot] = &[$($slot),*];
            fn check(
                props: &$crate::__private::Map<::std::string::String, $crate::__private::Value>,
            ) -> ::std::vec::Vec<$crate::ParamError> {
                $crate::check_plugin_params::<$params>($type_name, $kind, SLOTS, props)
            }
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
                }
            }
        };
    };
    ($info:expr $(,)?) => {
        $crate::inventory::submit! {
            $crate::Registration { info: $info, file: file!(), module: module_path!() }
        }
    };
}

#[doc(hidden)]
pub mod __private {
    pub use serde_json::{Map, Value};
}
