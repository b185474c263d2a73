#!/usr/bin/env bash
# Execution-engine benchmarks: builds `saker` in release, runs each bench flow with
# `saker flow test --json` under `/usr/bin/time -v`, and prints a markdown table.
#
# Figures come from the engine's own timestamps (the state histories in the final execution):
# - total: execution CREATED → terminal state;
# - task time: the union of the task runs' attempt intervals (time spent in workers; overlapping
#   attempts of parallel tasks count once);
# - orchestration: total − task time (the executor, the store and the hand-offs between them).
# Wall time and peak RSS are those of the whole process (`/usr/bin/time -v`), so they include
# parsing the flow and starting the runtime.
#
# Usage: bench/run.sh [flow.yaml ...]   (default: every bench/*.yaml; RUNS=n repeats, the run
# with the median orchestration time is kept; SAKER_BIN=path uses that binary)
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
target="${CARGO_TARGET_DIR:-$root/target}"
runs="${RUNS:-1}"

# SAKER_BIN=path skips the build (e.g. to compare two builds).
if [ -n "${SAKER_BIN:-}" ]; then
    bin="$SAKER_BIN"
else
    (cd "$root" && cargo build --release -q -p saker-cli)
    bin="$target/release/saker"
fi

if [ "$#" -eq 0 ]; then
    set -- "$here"/*.yaml
fi

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

echo "| Flow | Task runs | Final state | Total | Task time | Orchestration | Per task run | Wall | Peak RSS |"
echo "|---|---|---|---|---|---|---|---|---|"
for flow in "$@"; do
    name="$(basename "$flow" .yaml)"
    for i in $(seq 1 "$runs"); do
        /usr/bin/time -v "$bin" flow test "$flow" --json \
            >"$tmp/$name.$i.json" 2>"$tmp/$name.$i.err"
    done
    python3 - "$name" "$runs" "$tmp" <<'EOF'
import json, re, statistics, sys
from datetime import datetime

name, runs, tmp = sys.argv[1], int(sys.argv[2]), sys.argv[3]

def at(text):
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()

def union(intervals):
    total, end = 0.0, None
    for start, stop in sorted(intervals):
        if end is None or start > end:
            total += stop - start
            end = stop
        elif stop > end:
            total += stop - end
            end = stop
    return total

rows = []
for i in range(1, runs + 1):
    execution = json.load(open(f"{tmp}/{name}.{i}.json"))
    histories = execution["state"]["histories"]
    total = at(histories[-1]["date"]) - at(histories[0]["date"])
    intervals = []
    for run in execution.get("taskRunList", []):
        for attempt in run.get("attempts", []):
            h = attempt["state"]["histories"]
            intervals.append((at(h[0]["date"]), at(h[-1]["date"])))
    task = union(intervals)
    err = open(f"{tmp}/{name}.{i}.err").read()
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", err).group(1))
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)", err).group(1)
    parts = [float(p) for p in wall.split(":")]
    seconds = sum(p * 60 ** (len(parts) - 1 - k) for k, p in enumerate(parts))
    rows.append((total, task, total - task, seconds, rss, len(execution.get("taskRunList", [])),
                 execution["state"]["current"]))

row = sorted(rows, key=lambda r: r[2])[len(rows) // 2]
total, task, orch, wall, rss, count, state = row

def fmt(s):
    return f"{s * 1000:.1f} ms" if s < 1 else f"{s:.2f} s"

per = orch / count * 1e6 if count else 0
print(f"| `{name}` | {count} | {state} | {fmt(total)} | {fmt(task)} | {fmt(orch)} | "
      f"{per:.0f} µs | {fmt(wall)} | {rss / 1024:.0f} MB |")
EOF
done
