//! `docs/expressions.md` lists every filter, function and test the engine registers. The lists
//! are generated from the registries, and this test fails when they drift apart.
//! Regenerate with `SAKER_UPDATE_DOCS=1 cargo test -p saker-expr --test docs`.

use std::path::PathBuf;

use saker_expr::Engine;

fn docs_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/expressions.md")
}

/// The generated block for one registry: a comma-separated list of code spans.
fn block(names: &[&str]) -> String {
    let items: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
    // One name per line keeps diffs small when a name is added.
    format!("{}\n", items.join(",\n"))
}

/// Replaces the text between `<!-- BEGIN names:KIND -->` and `<!-- END names:KIND -->`.
fn splice(doc: &str, kind: &str, body: &str) -> String {
    let begin = format!("<!-- BEGIN names:{kind} -->\n");
    let end = format!("<!-- END names:{kind} -->");
    let start = doc
        .find(&begin)
        .unwrap_or_else(|| panic!("docs/expressions.md: missing `{}`", begin.trim()))
        + begin.len();
    let stop = doc[start..]
        .find(&end)
        .unwrap_or_else(|| panic!("docs/expressions.md: missing `{end}`"))
        + start;
    format!("{}{body}{}", &doc[..start], &doc[stop..])
}

#[test]
fn expressions_doc_lists_every_registered_name() {
    let e = Engine::new();
    let path = docs_path();
    let doc = std::fs::read_to_string(&path)
        .unwrap_or_else(|err| panic!("cannot read {}: {err}", path.display()));
    let mut want = doc.clone();
    for (kind, names) in [
        ("filters", e.filter_names()),
        ("functions", e.function_names()),
        ("tests", e.test_names()),
    ] {
        want = splice(&want, kind, &block(&names));
    }
    if want == doc {
        return;
    }
    if std::env::var_os("SAKER_UPDATE_DOCS").is_some() {
        std::fs::write(&path, want).expect("write docs/expressions.md");
        return;
    }
    panic!(
        "docs/expressions.md is out of date with the engine's registries; run \
         `SAKER_UPDATE_DOCS=1 cargo test -p saker-expr --test docs` and review the diff"
    );
}

#[test]
fn name_lists_are_sorted_and_match_lookups() {
    let e = Engine::new();
    for (names, has) in [
        (
            e.filter_names(),
            Engine::has_filter as fn(&Engine, &str) -> bool,
        ),
        (e.function_names(), Engine::has_function),
        (e.test_names(), Engine::has_test),
    ] {
        assert!(!names.is_empty());
        assert!(names.windows(2).all(|w| w[0] < w[1]), "{names:?}");
        assert!(names.iter().all(|n| has(&e, n)));
    }
    assert!(e.filter_names().contains(&"upper"));
    assert!(e.function_names().contains(&"render"));
    assert!(e.test_names().contains(&"defined"));
    assert!(Engine::empty().filter_names().is_empty());
}
