#!/usr/bin/env bash
# The benchmark suite (issue 7): builds what it measures, runs every workload and writes
# docs/benchmarks.md (from bench/template.md) and docs/benchmarks/*.svg.
#
#   bench/suite.sh [--db sqlite|postgres|both] [--peers] [--runs N] [--smoke]
#                  [--peer-results bench/results/run-....json] [--peer-budget S] [--workloads a1,c]
#
# --smoke: CI-sized (seconds), debug build, one run, prints the report instead of writing the
#          doc. --peers: Prefect and Airflow after Saker, in the same run (venvs under /tmp/peers,
#          created from shared/bench/peers/*/requirements.txt when missing).
#          SAKER_BIN=path measures that binary instead of building. All options: suite.py --help.
# Results are kept in bench/results/run-*.json; the doc compares with the previous run.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
cd "$root"

profile=release
for a in "$@"; do [ "$a" = "--smoke" ] && profile=debug; done
cargo_profile=(--release)
[ "$profile" = debug ] && cargo_profile=()

# The path of an artifact cargo reports for a build command (its executable).
artifact() {
  cargo "$@" --message-format=json -q |
    python3 -c 'import json,sys
exe=[j["executable"] for j in map(json.loads, sys.stdin) if j.get("reason")=="compiler-artifact" and j.get("executable")]
print(exe[-1] if exe else "")'
}

if [ -n "${SAKER_BIN:-}" ]; then
  bin="$SAKER_BIN"
else
  bin="$(artifact build "${cargo_profile[@]}" -p saker-cli --bin saker)"
fi
lateness="$(artifact build "${cargo_profile[@]}" -p saker-scheduler --example lateness)"
if [ "$profile" = release ]; then
  apply="$(artifact bench -p saker-engine --bench apply --no-run)"
else
  apply="$(artifact build -p saker-engine --bench apply)"
fi

exec python3 "$here/suite.py" --bin "$bin" --lateness "$lateness" --apply-bench "$apply" "$@"
