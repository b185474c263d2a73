#!/usr/bin/env bash
# Validates every flow of examples/ and runs each with `saker flow test`, checking the final
# state listed in examples/README.md.
set -euo pipefail
cd "$(dirname "$0")/.."
bin="${SAKER_BIN:-${CARGO_TARGET_DIR:-target}/debug/saker}"
[ -x "$bin" ] || cargo build -p saker-cli
"$bin" flow validate examples/
status=0
while IFS='|' read -r _ file _ state _; do
  file=$(echo "$file" | tr -d ' `'); state=$(echo "$state" | tr -d ' ')
  case "$file" in *.yaml|*.yml) ;; *) continue ;; esac
  got=$("$bin" flow test "examples/$file" --json 2>/dev/null |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["state"]["current"])')
  if [ "$got" = "$state" ]; then
    echo "example $file: $got"
  else
    echo "example $file: $got, expected $state" >&2
    status=1
  fi
done < examples/README.md
exit $status
