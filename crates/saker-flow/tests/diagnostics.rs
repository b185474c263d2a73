//! Snapshot tests of the diagnostics of bad flows (`tests/bad/*.yaml`), rendered as the CLI
//! shows them (no colours) and as JSON.

use std::path::Path;

use saker_flow::testing::TestCatalog;
use saker_flow::{LoadOptions, Renderer, check_source};

/// The one entry point of these tests: renders every diagnostic of `name`.
fn check_flow(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/bad")
        .join(name);
    let source = std::fs::read_to_string(&path).expect("test flow exists");
    let shown = Path::new("bad").join(name);
    let docs = check_source(&source, Some(&shown), &TestCatalog, &LoadOptions::default());
    let mut out = String::new();
    for doc in docs {
        assert!(!doc.is_valid(), "{name} must be invalid");
        out.push_str(&Renderer::new(&doc.source, false).render_all(&doc.diagnostics));
    }
    out
}

macro_rules! snap {
    ($test:ident, $file:expr) => {
        #[test]
        fn $test() {
            insta::assert_snapshot!(check_flow($file));
        }
    };
}

snap!(unknown_properties, "unknown-props.yaml");
snap!(types_and_kinds, "types-and-kinds.yaml");
snap!(flowables, "flowables.yaml");
snap!(inputs_and_outputs, "inputs.yaml");
snap!(misc_rules, "misc.yaml");
snap!(yaml_syntax, "syntax.yaml");
snap!(duplicate_keys, "duplicate-keys.yaml");
snap!(sla, "sla.yaml");

#[test]
fn json_form() {
    let source = "id: x\nnamespace: n\ntasks: []\n";
    let docs = check_source(source, None, &TestCatalog, &LoadOptions::default());
    insta::assert_json_snapshot!(saker_flow::diag::to_json(&docs[0].diagnostics));
}
