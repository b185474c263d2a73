//! Kestra's filters, functions and tests (spec §7.6–7.8), registered into an [`Engine`].

use crate::Engine;

/// Registers the whole library.
pub(crate) fn register_all(engine: &mut Engine) {
    let _ = engine;
}
