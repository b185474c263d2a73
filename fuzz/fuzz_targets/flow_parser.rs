//! Arbitrary bytes as a flow file, validated against the real plugin registry, as
//! `saker flow validate` does. Validation must never panic on user input (ARCHITECTURE.md), and
//! every diagnostic must carry a code and a position the renderer can show.
#![no_main]

use libfuzzer_sys::fuzz_target;
use saker_flow::{LoadOptions, Renderer};

fuzz_target!(|data: &[u8]| {
    let opts = LoadOptions::default();
    for doc in saker_flow::check_bytes(data, None, saker_tasks::registry(), &opts) {
        for d in &doc.diagnostics {
            assert!(
                d.code.starts_with("FLOW"),
                "diagnostic without a code: {d:?}"
            );
        }
        // The snippet renderer indexes the source by line and column.
        let _ = Renderer::new(&doc.source, false).render_all(&doc.diagnostics);
        let _ = doc.is_valid();
    }
});
