#!/usr/bin/env bash
# The whole test suite: formatting, lints, unit + integration tests, and the conformance ratchet.
# Usage: scripts/test.sh            (what CI runs)
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "rustfmt"
cargo fmt --all -- --check

step "clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "build"
cargo build --workspace --all-targets --locked

step "examples"
scripts/examples.sh

step "benchmark suite smoke (CI sizes, no thresholds)"
bench/suite.sh --smoke >/dev/null

step "conformance ratchet"
scripts/conformance.sh --check

step "tests"
if command -v cargo-nextest >/dev/null 2>&1; then
  cargo nextest run --workspace --locked --no-fail-fast
else
  cargo test --workspace --locked --no-fail-fast
fi
