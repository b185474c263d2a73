//! Arbitrary UTF-8 as a template: the syntax check flow validation uses, then a render against a
//! small context. Errors are fine; panics, hangs and unbounded memory are not.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use saker_expr::{Engine, NoServices, Value};

static ENGINE: LazyLock<Engine> = LazyLock::new(|| {
    let mut e = Engine::new();
    // Keep a single input from running the default 5,000,000 loop iterations.
    e.set_loop_limit(10_000);
    e
});

static CTX: LazyLock<Value> = LazyLock::new(|| {
    serde_json::json!({
        "flow": {"id": "hello", "namespace": "company.team"},
        "execution": {"id": "4wjtkzwVGBM9yKnjm3yv8r", "startDate": "2025-01-06T09:00:00.000Z"},
        "inputs": {
            "name": "World",
            "n": 3,
            "ratio": 0.5,
            "ok": true,
            "nothing": null,
            "items": [1, 2, "three", {"k": "v"}],
            "map": {"a": 1, "b": [true, false], "dashed-key": "x"}
        },
        "outputs": {"t": {"value": "hello", "vars": {"x": 42}}},
        "vars": {"greeting": "{{ inputs.name }}"},
        "taskrun": {"value": "a", "iteration": 0}
    })
});

fuzz_target!(|data: &[u8]| {
    let Ok(template) = std::str::from_utf8(data) else {
        return;
    };
    let checked = saker_expr::check(template);
    let rendered = ENGINE.render(template, &CTX, &NoServices);
    // A render can only succeed on a template that passes the syntax check.
    if rendered.is_ok() {
        assert!(checked.is_ok(), "rendered but check failed: {checked:?}");
    }
    let _ = ENGINE.render_typed(template, &CTX, &NoServices);
});
