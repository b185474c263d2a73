//! Flow validation benchmarks: parse + validate generated flows of 10 and 1,000 tasks against
//! the real plugin registry, as `saker flow validate` does.
//!
//! The bench lives here rather than in `saker-flow` because the real registry is this crate's:
//! a `saker-flow` bench would need `saker-tasks` as a dev-dependency, a cycle.
//! Figures are recorded in `docs/benchmarks.md`; nothing asserts on them.

use std::fmt::Write as _;
use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};

/// One block of exactly 10 tasks mixing the common core types, each with expressions:
/// Log, Return, If (then Log / else Return), ForEach (Log), Parallel (Log, Return).
fn block(out: &mut String, i: usize) {
    let _ = write!(
        out,
        r#"  - id: log_{i}
    type: io.kestra.plugin.core.log.Log
    message: "Block {i} of {{{{ flow.namespace }}}}.{{{{ flow.id }}}} for {{{{ inputs.name | upper }}}}"
  - id: ret_{i}
    type: io.kestra.plugin.core.debug.Return
    format: "{{{{ outputs.log_{i} ?? 'none' }}}}-{{{{ inputs.count * {i} + 1 }}}}"
  - id: if_{i}
    type: io.kestra.plugin.core.flow.If
    condition: "{{{{ inputs.count > {i} and inputs.name is defined }}}}"
    then:
      - id: then_{i}
        type: io.kestra.plugin.core.log.Log
        level: DEBUG
        message: "{{{{ outputs.ret_{i}.value | default('') | length }}}} chars"
    else:
      - id: else_{i}
        type: io.kestra.plugin.core.debug.Return
        format: "{{% if inputs.count is even %}}even{{% else %}}odd{{% endif %}}"
  - id: each_{i}
    type: io.kestra.plugin.core.flow.ForEach
    values: ["a", "b", "{{{{ inputs.name }}}}"]
    concurrencyLimit: 2
    tasks:
      - id: item_{i}
        type: io.kestra.plugin.core.log.Log
        message: "{{{{ taskrun.value }}}} at {{{{ now() | date('yyyy-MM-dd') }}}}"
  - id: par_{i}
    type: io.kestra.plugin.core.flow.Parallel
    tasks:
      - id: par_log_{i}
        type: io.kestra.plugin.core.log.Log
        message: "{{{{ inputs.name ~ '-' ~ {i} }}}}"
      - id: par_ret_{i}
        type: io.kestra.plugin.core.debug.Return
        format: "{{{{ [1, 2, 3] | join(',') }}}}"
"#
    );
}

/// A flow of `10 * blocks` tasks.
fn flow(blocks: usize) -> String {
    let mut s = String::from(
        "id: generated\nnamespace: company.team\ninputs:\n  - id: name\n    type: STRING\n    \
         defaults: World\n  - id: count\n    type: INT\n    defaults: 3\ntasks:\n",
    );
    for i in 0..blocks {
        block(&mut s, i);
    }
    s
}

fn bench(c: &mut Criterion) {
    let catalog = saker_tasks::registry();
    for (name, blocks) in [("validate_10_tasks", 1), ("validate_1000_tasks", 100)] {
        let source = flow(blocks);
        // The fixture must be a valid flow of the announced size, or the figure means nothing.
        let parsed = saker_flow::parse_and_validate(&source, None, catalog)
            .unwrap_or_else(|d| panic!("{name}: generated flow is invalid: {d:#?}"));
        assert_eq!(parsed.all_tasks().len(), blocks * 10, "{name}");

        let mut group = c.benchmark_group(name);
        group.throughput(Throughput::Bytes(source.len() as u64));
        group.bench_function("parse_and_validate", |b| {
            b.iter(|| saker_flow::parse_and_validate(black_box(&source), None, catalog).is_ok())
        });
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
