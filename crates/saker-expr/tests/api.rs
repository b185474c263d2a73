//! Public API behaviour and robustness (no panics on hostile input).

use std::sync::Arc;

use saker_expr::{
    Engine, NoServices, Template, Value, check, is_template, is_truthy_string, pebble_truthy,
    to_output_string,
};
use serde_json::json;

#[test]
fn check_reports_one_based_positions() {
    assert!(check("plain").is_ok());
    assert!(check("{{ a.b | upper }} {% if x %}y{% endif %}").is_ok());
    let e = check("line one\n  {{ ) }}").unwrap_err();
    assert_eq!((e.line, e.column), (2, 6), "{e}");
    let e = check("{% if x %}\n\n").unwrap_err();
    assert!(e.message.contains("endif"), "{e}");
    let e = check("ab{{ 1 + }}").unwrap_err();
    assert_eq!((e.line, e.column), (1, 10), "{e}");
    // Unknown filters are an evaluation problem, not a syntax one (as in Pebble).
    assert!(check("{{ x | nosuchfilter }}").is_ok());
}

#[test]
fn is_template_and_truthiness() {
    assert!(is_template("a {{ b }}") && is_template("{% if %}") && is_template("{# c #}"));
    assert!(!is_template("a { b } %} #}"));
    for falsy in ["false", "0", "-0", "", "  ", " false\n"] {
        assert!(!is_truthy_string(falsy), "{falsy:?}");
    }
    for truthy in ["true", "1", "False", "no", "null", "0.0"] {
        assert!(is_truthy_string(truthy), "{truthy:?}");
    }
    assert!(pebble_truthy(&json!("false")).unwrap());
    assert!(!pebble_truthy(&json!(0)).unwrap());
    assert!(pebble_truthy(&Value::Null).is_err());
    assert!(pebble_truthy(&json!([1])).is_err());
}

#[test]
fn render_evaluate_and_typed() {
    let e = Engine::new();
    let ctx = json!({"outputs": {"t": {"value": "x", "list": [1, 2]}}, "n": 2});
    assert_eq!(
        e.render("no braces {", &ctx, &NoServices).unwrap(),
        "no braces {"
    );
    assert_eq!(
        e.render("{{ outputs.t.list }}", &ctx, &NoServices).unwrap(),
        "[1,2]"
    );
    assert_eq!(
        e.evaluate("n * 2 > 3", &ctx, &NoServices).unwrap(),
        json!(true)
    );
    assert_eq!(
        e.evaluate("outputs.t", &ctx, &NoServices).unwrap(),
        json!({"value": "x", "list": [1, 2]})
    );
    assert_eq!(
        e.render_typed("{{ outputs.t.list }}", &ctx, &NoServices)
            .unwrap(),
        json!([1, 2])
    );
    assert_eq!(
        e.render_typed("{{ n }}", &ctx, &NoServices).unwrap(),
        json!(2)
    );
    assert_eq!(
        e.render_typed("n={{ n }}", &ctx, &NoServices).unwrap(),
        json!("n=2")
    );
    assert_eq!(
        e.render_typed("{{ missing ?? null }}", &ctx, &NoServices)
            .unwrap(),
        Value::Null
    );
    let rendered = e
        .render_value(
            &json!({"{{ 'k' }}": ["{{ n }}", 3], "plain": true}),
            &ctx,
            &NoServices,
        )
        .unwrap();
    assert_eq!(rendered, json!({"k": ["2", 3], "plain": true}));
    let err = e.evaluate("missing.x", &ctx, &NoServices).unwrap_err();
    assert_eq!(
        err.message,
        "Unable to find `missing` used in the expression `missing.x` at line 1"
    );
    assert_eq!((err.line, err.column), (1, 1));
}

#[test]
fn parsed_templates_are_cached_and_reusable() {
    let e = Engine::new();
    let a = e.parse("{{ x }}").unwrap();
    let b = e.parse("{{ x }}").unwrap();
    assert!(Arc::ptr_eq(&a, &b));
    let t = Template::parse("{{ x ~ '!' }}").unwrap();
    assert_eq!(t.source(), "{{ x ~ '!' }}");
    for i in 0..3 {
        assert_eq!(
            t.render(&e, &json!({"x": i}), &NoServices).unwrap(),
            format!("{i}!")
        );
    }
    // The cache stays bounded.
    for i in 0..2500 {
        e.render(&format!("{{{{ {i} }}}}"), &json!({}), &NoServices)
            .unwrap();
    }
}

#[test]
fn engine_is_shared_across_threads() {
    let e = Arc::new(Engine::new());
    let handles: Vec<_> = (0..4)
        .map(|i| {
            let e = e.clone();
            std::thread::spawn(move || {
                let ctx = json!({"i": i});
                (0..200).all(|_| {
                    e.render("{{ i * 2 }}", &ctx, &NoServices).unwrap() == (i * 2).to_string()
                })
            })
        })
        .collect();
    for h in handles {
        assert!(h.join().unwrap());
    }
}

#[test]
fn loop_limit_stops_runaway_templates() {
    let mut e = Engine::new();
    e.set_loop_limit(1_000);
    let err = e
        .render(
            "{% for i in 1..100 %}{% for j in 1..100 %}{% endfor %}{% endfor %}",
            &json!({}),
            &NoServices,
        )
        .unwrap_err();
    assert!(err.message.contains("too many loop iterations"), "{err}");
    assert!(
        e.render("{% for i in 1..900 %}{% endfor %}", &json!({}), &NoServices)
            .is_ok()
    );
}

#[test]
fn printing_helper() {
    assert_eq!(to_output_string(&json!(null)), "");
    assert_eq!(to_output_string(&json!(1.0)), "1.0");
    assert_eq!(
        to_output_string(&json!({"a": [true, null]})),
        r#"{"a":[true,null]}"#
    );
}

/// Every prefix and every single-character corruption of realistic templates must give a result
/// or an error, never a panic.
#[test]
fn hostile_inputs_never_panic() {
    let e = Engine::new();
    let ctx = json!({"a": {"b": [1, {"c": "d"}]}, "s": "x", "n": null});
    let seeds = [
        "{% for k, v in a %}{{- k ~ ':' ~ v | length -}}{% else %}none{% endfor %}",
        "{{ a.b[1]['c'] ?? 'x' | upper }} {# c #} {% if n is null and not false %}y{% elseif 1 %}z{% endif %}",
        "{% set x = {'k': [1, 2.5, \"#{s}\"]} %}{{ x.k[2] ~ (1..3) }}{% raw %}{{ raw }}{% endraw %}",
        "{{ s isIn ['x'] ? render('{{ 1 }}') : n ??? 'u' }}{% filter upper %}f{% endfilter %}",
    ];
    let noise = [
        '{', '}', '%', '#', '-', '\'', '"', '(', ')', '[', ']', '|', '.', '?', ':', 'é', '\n',
    ];
    for seed in seeds {
        let chars: Vec<char> = seed.chars().collect();
        for cut in 0..=chars.len() {
            let prefix: String = chars[..cut].iter().collect();
            let _ = e.render(&prefix, &ctx, &NoServices);
            let _ = check(&prefix);
            let _ = e.evaluate(&prefix, &ctx, &NoServices);
        }
        for i in 0..chars.len() {
            for c in noise {
                let mut mutated = chars.clone();
                mutated[i] = c;
                let s: String = mutated.into_iter().collect();
                let _ = e.render(&s, &ctx, &NoServices);
            }
        }
    }
}

#[test]
fn huge_and_deep_inputs_are_errors() {
    let e = Engine::new();
    let ctx = json!({});
    for deep in [
        format!("{{{{ {} }}}}", "(".repeat(10_000)),
        format!("{{{{ {}1{} }}}}", "[".repeat(10_000), "]".repeat(10_000)),
        format!(
            "{{{{ {}1{} }}}}",
            "{'a':".repeat(10_000),
            "}".repeat(10_000)
        ),
        format!("{{{{ 1{} }}}}", " + 1".repeat(10_000)),
        format!("{{{{ x{} }}}}", ".a".repeat(10_000)),
        format!("{{{{ {}true }}}}", "not ".repeat(10_000)),
        "{% if true %}".repeat(10_000),
        "{{".repeat(100_000),
        "{%".repeat(100_000),
        format!("{{{{ '{}' }}}}", "x".repeat(1_000_000)),
    ] {
        let _ = e.render(&deep, &ctx, &NoServices);
        let _ = check(&deep);
    }
    let big = "y".repeat(2_000_000);
    assert_eq!(
        e.render(&format!("{{{{ '{big}' }}}}"), &ctx, &NoServices)
            .unwrap()
            .len(),
        big.len()
    );
}

/// Fuzzing found `{{ a..b - c..d }}` hanging: list `-` (and list `contains` list) compared every
/// pair of items, so two ranges of a million items took 10^12 comparisons.
#[test]
fn list_difference_and_containment_are_not_quadratic() {
    let e = Engine::new();
    let ctx = json!({});
    let render = |t: &str| e.render(t, &ctx, &NoServices);
    // The fuzzer's input (minimised by hand): a 68,176-item range minus a 10,476-item one.
    assert_eq!(
        render("{{ (372..68547 - 58072..68547) | length }}").unwrap(),
        "57700"
    );
    assert_eq!(render("{{ (0..199999 - 0..199998) }}").unwrap(), "[199999]");
    assert_eq!(
        render("{{ 0..199999 contains 0..199999 }}").unwrap(),
        "true"
    );
    assert_eq!(
        render("{{ 0..199998 contains 0..199999 }}").unwrap(),
        "false"
    );
    // Same equality as before: exact JSON equality (an integer is not a decimal here).
    assert_eq!(
        render("{{ [1, 2, 2, 3, 1.0, {'a': [1]}] - [2, 1, {'a': [1]}] }}").unwrap(),
        "[3,1.0]"
    );
    assert_eq!(render("{{ [1, 2, 3] contains [3, 1] }}").unwrap(), "true");
    assert_eq!(
        render("{{ [1, 2, 3] contains [3, 1.0] }}").unwrap(),
        "false"
    );
    assert_eq!(render("{{ [1, 2] - 2 }}").unwrap(), "[1]");
}

/// Render failures read as Kestra's (users and the conformance corpus grep logs for them).
#[test]
fn errors_display_in_kestras_words() {
    struct EmptyKv;
    impl saker_expr::Services for EmptyKv {
        fn kv(&self, _: Option<&str>, _: &str) -> Result<Option<Value>, String> {
            Ok(None)
        }
    }
    let e = Engine::new();
    let ctx =
        json!({"flow": {"namespace": "io.kestra.tests"}, "inputs": {"ns": "io.kestra.tests"}});
    let template = "{{ kv('my-key', inputs.ns, true).field }}";
    let err = e.render(template, &ctx, &EmptyKv).unwrap_err();
    assert_eq!(
        err.to_string(),
        "io.pebbletemplates.pebble.error.PebbleException: The key 'my-key' does not exist in the \
         namespace 'io.kestra.tests'. ({{ kv('my-key', inputs.ns, true).field }}:1)"
    );
    // The default raises (Kestra ≥ 0.22); `errorOnMissing=false` gives null.
    assert!(e.render("{{ kv('my-key') }}", &ctx, &EmptyKv).is_err());
    assert_eq!(
        e.render(
            "{{ kv('my-key', errorOnMissing=false) ?? 'none' }}",
            &ctx,
            &EmptyKv
        )
        .unwrap(),
        "none"
    );
    let err = e.render("a\n{{ nope }}", &ctx, &NoServices).unwrap_err();
    assert_eq!(
        err.to_string(),
        "Unable to find `nope` used in the expression `a\n{{ nope }}` at line 2"
    );
    let err = e.render("{{ ) }}", &ctx, &NoServices).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("io.pebbletemplates.pebble.error.ParserException: "),
        "{err}"
    );
    assert!(err.to_string().ends_with(" ({{ ) }}:1)"), "{err}");
    // Without a template (a library error not raised by a render) the position is kept.
    assert_eq!(saker_expr::Error::msg("boom").to_string(), "boom (0:0)");
}
