//! The plugin catalog the CLI validates against: every built-in plugin type.

use saker_flow::Catalog;

/// The registry of `saker-tasks` (collected with `inventory`).
pub(crate) fn catalog() -> &'static dyn Catalog {
    saker_tasks::registry()
}
