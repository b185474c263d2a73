//! Declaring `Params` structs that share groups of properties.
//!
//! Kestra plugins inherit properties from common interfaces (a JDBC connection, a script's
//! working directory...). `#[serde(flatten)]` would express that, but it cannot be combined with
//! `deny_unknown_fields`, and it would also change the JSON Schema and the list of known
//! properties of the "Unrecognized field" message. So the shared fields are spliced into each
//! struct at compile time instead: the result is exactly the struct written by hand.

/// Declares a plugin's `Params` struct, splicing in groups of shared fields where
/// `common: <group>;` stands (order matters: it is the order of the known-properties list and
/// of the schema). The struct's own attributes (derives, `#[serde(...)]`) are written as usual.
///
/// ```ignore
/// plugin_params! {
///     /// Properties of `Query`.
///     #[derive(Debug, Deserialize, JsonSchema)]
///     #[serde(deny_unknown_fields, rename_all = "camelCase")]
///     pub struct Params {
///         common: postgres_connection;
///         /// The SQL statement.
///         pub sql: Property<String>,
///     }
/// }
/// ```
///
/// Group fields name their types as the plugin files see them: `saker_task::prelude` (which
/// every plugin file glob-imports) and `crate::shared::...` paths.
macro_rules! plugin_params {
    (
        $(#[$($meta:tt)*])*
        $vis:vis struct $name:ident { $($body:tt)* }
    ) => {
        $crate::shared::plugin_params! {
            @munch [$(#[$($meta)*])* $vis struct $name] [] $($body)*
        }
    };
    // A group: its macro puts its fields in front of the rest and calls back here.
    (@munch $head:tt $acc:tt common: $group:ident; $($rest:tt)*) => {
        $crate::shared::$group! { $head $acc $($rest)* }
    };
    (
        @munch $head:tt [$($acc:tt)*]
        $(#[$($attr:tt)*])* $fvis:vis $field:ident : $ty:ty $(, $($rest:tt)*)?
    ) => {
        $crate::shared::plugin_params! {
            @munch $head [$($acc)* $(#[$($attr)*])* $fvis $field: $ty,] $($($rest)*)?
        }
    };
    (@munch [$($head:tt)*] [$($acc:tt)*]) => {
        $($head)* { $($acc)* }
    };
}
pub(crate) use plugin_params;

/// Declares a group of fields usable as `common: <name>;` in [`plugin_params!`].
macro_rules! param_group {
    ($(#[$doc:meta])* $name:ident { $($fields:tt)* }) => {
        // `$` cannot be written in the generated macro's matcher directly: pass it in as a token.
        $crate::shared::params::param_group! { @define ($) $(#[$doc])* $name { $($fields)* } }
    };
    (@define ($d:tt) $(#[$doc:meta])* $name:ident { $($fields:tt)* }) => {
        $(#[$doc])*
        macro_rules! $name {
            ($d head:tt $d acc:tt $d($d rest:tt)*) => {
                $crate::shared::plugin_params! { @munch $d head $d acc $($fields)* $d($d rest)* }
            };
        }
        pub(crate) use $name;
    };
}
pub(crate) use param_group;
