//! Render benchmarks: the hot path (`{{ outputs.t.value | upper }}`) and a small loop template.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use saker_expr::{Engine, NoServices, Value};

fn engine() -> Engine {
    let mut e = Engine::new();
    // The library may not provide `upper` yet; a local one keeps the bench meaningful.
    e.register_filter("upper", |_, v, _| match v {
        Value::String(s) => Ok(Value::String(s.to_uppercase())),
        other => Ok(Value::String(
            saker_expr::to_output_string(other).to_uppercase(),
        )),
    });
    e
}

fn bench(c: &mut Criterion) {
    let e = engine();
    let ctx: Value = serde_json::json!({"outputs": {"t": {"value": "hello"}}});
    c.bench_function("render_filter", |b| {
        b.iter(|| {
            e.render(
                black_box("{{ outputs.t.value | upper }}"),
                black_box(&ctx),
                &NoServices,
            )
            .unwrap()
        })
    });

    let ctx: Value = serde_json::json!({
        "inputs": {"items": [{"name": "a", "n": 1}, {"name": "b", "n": 2}, {"name": "c", "n": 3}, {"name": "d", "n": 4}]},
        "flow": {"id": "hello", "namespace": "company.team"}
    });
    let template = "Flow {{ flow.namespace }}.{{ flow.id }}\n\
        {% for item in inputs.items %}\n\
        {{ loop.index }}: {{ item.name | upper }}\n\
        {% if item.n % 2 == 0 %}even{% else %}odd{% endif %}\n\
        {{ item.n * 10 + 1 }}\n\
        {% if not loop.last %},{% endif %}\n\
        {% endfor %}\n\
        total={{ inputs.items | length ?? 0 }}\n\
        {{ inputs.missing ?? 'default' }}\n\
        done";
    c.bench_function("render_loop_10_lines", |b| {
        b.iter(|| {
            e.render(black_box(template), black_box(&ctx), &NoServices)
                .unwrap()
        })
    });

    let plain = "no template here, just a plain string value";
    c.bench_function("render_plain", |b| {
        b.iter(|| {
            e.render(black_box(plain), black_box(&ctx), &NoServices)
                .unwrap()
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
