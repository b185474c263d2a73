#!/usr/bin/env python3
"""The benchmark suite (issue 7): runs every workload on Saker (SQLite, PostgreSQL), optionally
on the peers (Prefect, Airflow), and writes docs/benchmarks.md from bench/template.md.

Stdlib only. Normally started by bench/suite.sh, which builds the binaries; see --help.

Method (shared/bench/anchors.md §6.1): a warm-up then --runs measured runs, medians and
min–max; times come from each engine's own records (Saker: the execution's and task runs'
state histories, fetched through the API), CPU seconds (user+sys, the server and its children)
and peak RSS per engine, the 1-minute load average beside every run, an fsync probe beside
every workload, the machine and the git commit.
"""
import argparse
import datetime as dt
import glob
import http.client
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
CLK_TCK = os.sysconf("SC_CLK_TCK")
PEERS_DIR = os.environ.get("SAKER_BENCH_PEERS_DIR", os.path.join(ROOT, "..", "shared", "bench", "peers"))
PEER_VENVS = os.environ.get("SAKER_BENCH_PEER_VENVS", "/tmp/peers")


def log(*a):
    print(f"[bench {time.strftime('%H:%M:%S')}]", *a, file=sys.stderr, flush=True)


def load1():
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])


# ------------------------------------------------------------------ flows


def seq_flow(fid, n, kind):
    lines = [f"id: {fid}", "namespace: bench", "tasks:"]
    for i in range(1, n + 1):
        if kind == "return":
            lines += [f"  - id: r{i:02d}", "    type: io.kestra.plugin.core.debug.Return",
                      f'    format: "{{{{ taskrun.id }}}}-{i}"']
        elif kind == "shell":
            lines += [f"  - id: s{i:02d}", "    type: io.kestra.plugin.scripts.shell.Commands",
                      "    taskRunner:", "      type: io.kestra.plugin.core.runner.Process",
                      "    commands:", '      - "true"']
        else:
            lines += [f"  - id: p{i:02d}", "    type: io.kestra.plugin.scripts.python.Script",
                      "    taskRunner:", "      type: io.kestra.plugin.core.runner.Process",
                      "    script: |", "      def fibo(n):",
                      "          return n if n < 2 else fibo(n - 1) + fibo(n - 2)",
                      "      print(fibo(10))"]
    return "\n".join(lines) + "\n"


def parallel_shell_flow(fid, n):
    lines = [f"id: {fid}", "namespace: bench", "tasks:", "  - id: all",
             "    type: io.kestra.plugin.core.flow.Parallel", "    concurrent: 0", "    tasks:"]
    for i in range(1, n + 1):
        lines += [f"      - id: s{i:02d}", "        type: io.kestra.plugin.scripts.shell.Commands",
                  "        taskRunner:", "          type: io.kestra.plugin.core.runner.Process",
                  "        commands:", "          - sleep 1"]
    return "\n".join(lines) + "\n"


def foreach_flow(fid, n, body, limit):
    values = ",".join(f'"{v}"' for v in range(n))
    if body == "sleep":
        task = ("      - id: nap\n        type: io.kestra.plugin.core.flow.Sleep\n"
                "        duration: PT1S\n")
    else:
        task = ("      - id: ret\n        type: io.kestra.plugin.core.debug.Return\n"
                '        format: "{{ taskrun.value }}"\n')
    return (f"id: {fid}\nnamespace: bench\ntasks:\n  - id: each\n"
            f"    type: io.kestra.plugin.core.flow.ForEach\n    concurrencyLimit: {limit}\n"
            f"    values: [{values}]\n    tasks:\n{task}")


def three_returns(fid, ns):
    return (f"id: {fid}\nnamespace: {ns}\ntasks:\n" + "".join(
        f"  - id: {t}\n    type: io.kestra.plugin.core.debug.Return\n    format: {t}\n" for t in "abc"))


# ------------------------------------------------------------------ time parsing


_FRAC = re.compile(r"^(.*T\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)$")


def at(text):
    """ISO date (nanoseconds allowed) → epoch seconds."""
    m = _FRAC.match(text)
    if not m:
        return dt.datetime.fromisoformat(text).timestamp()
    base, frac, tz = m.groups()
    tz = "+00:00" if tz == "Z" else tz
    seconds = dt.datetime.fromisoformat(base + tz).timestamp()
    return seconds + (float("0" + frac) if frac else 0.0)


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


TERMINAL = {"SUCCESS", "FAILED", "WARNING", "KILLED", "CANCELLED", "SKIPPED"}


def phases(execution):
    """Figures from the engine's own state histories."""
    h = execution["state"]["histories"]
    total = at(h[-1]["date"]) - at(h[0]["date"])
    runs = []
    trs = execution.get("taskRunList") or []
    # flowable parents (ForEach, Parallel) span their children: phases are the leaves'
    parents = {tr.get("parentTaskRunId") for tr in trs}
    for tr in trs:
        if tr["id"] in parents:
            continue
        hist = tr["state"]["histories"]
        created = at(hist[0]["date"])
        running = next((at(x["date"]) for x in hist if x["state"] == "RUNNING"), None)
        end = next((at(x["date"]) for x in reversed(hist) if x["state"] in TERMINAL), None)
        runs.append((created, running, end))
    runs.sort(key=lambda r: r[0])
    dispatch = [r[1] - r[0] for r in runs if r[1] is not None]
    run = [r[2] - r[1] for r in runs if r[1] is not None and r[2] is not None]
    handoff = [b[0] - a[2] for a, b in zip(runs, runs[1:]) if a[2] is not None]
    steps, prev = [], at(h[0]["date"])
    for r in runs:
        if r[2] is not None:
            steps.append(r[2] - prev)
            prev = r[2]
    return {
        "total": total,
        "state": execution["state"]["current"],
        "task_runs": len(trs),
        "dispatch_med": statistics.median(dispatch) if dispatch else None,
        "run_med": statistics.median(run) if run else None,
        "handoff_med": statistics.median(handoff) if handoff else None,
        # time covered by at least one task run's RUNNING → end (parallel runs count once)
        "run_sum": sum(run),
        "run_union": union([(r[1], r[2]) for r in runs if r[1] is not None and r[2] is not None]),
        "steps": steps,
    }


# ------------------------------------------------------------------ the server


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def proc_children(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []


class Server:
    """`saker server local` under /usr/bin/time -v, fresh data directory (and database)."""

    def __init__(self, suite, db, env=None):
        self.suite, self.db = suite, db
        self.dir = tempfile.mkdtemp(prefix="saker-bench-", dir=suite.tmp)
        self.port = free_port()
        self.database = None
        args = [suite.bin, "server", "local", "--port", str(self.port), "--data-dir",
                os.path.join(self.dir, "data")]
        if db == "postgres":
            self.database = f"saker_bench_{os.getpid()}_{suite.next_id()}"
            subprocess.run(["psql", "-q", "-h", "127.0.0.1", "-U", "postgres", "-c",
                            f"create database {self.database}"], check=True)
            # Flush what earlier workloads (and the database copy) left dirty now, so that the
            # next timed checkpoint is not due in the middle of this workload.
            subprocess.run(["psql", "-q", "-h", "127.0.0.1", "-U", "postgres", "-c", "checkpoint"],
                           check=True)
            args += ["--database-url", f"postgres://postgres@127.0.0.1:5432/{self.database}"]
        self.timefile = os.path.join(self.dir, "time.txt")
        self.logfile = open(os.path.join(self.dir, "server.log"), "wb")
        t0 = time.perf_counter()
        self.proc = subprocess.Popen(["/usr/bin/time", "-v", "-o", self.timefile] + args,
                                     stdout=self.logfile, stderr=subprocess.STDOUT,
                                     env=dict(os.environ, **(env or {})))
        deadline = t0 + 60
        self.ready_s = None
        while time.perf_counter() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.tail()}")
            try:
                c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=1)
                c.request("GET", "/ping")
                if c.getresponse().status == 200:
                    self.ready_s = time.perf_counter() - t0
                    break
            except OSError:
                time.sleep(0.001)
        if self.ready_s is None:
            raise RuntimeError("server not ready after 60 s")
        kids = proc_children(self.proc.pid)
        self.pid = kids[0] if kids else self.proc.pid
        self.local = threading.local()

    def tail(self):
        self.logfile.flush()
        with open(os.path.join(self.dir, "server.log"), "rb") as f:
            return f.read()[-2000:].decode(errors="replace")

    def cpu(self):
        """user+sys seconds of the server and its waited-for children (the task processes)."""
        with open(f"/proc/{self.pid}/stat") as f:
            s = f.read()
        fields = s[s.rindex(")") + 2:].split()
        return sum(int(x) for x in fields[11:15]) / CLK_TCK

    def status_kb(self, key):
        with open(f"/proc/{self.pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
        return 0

    def conn(self):
        c = getattr(self.local, "c", None)
        if c is None:
            c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=900)
            self.local.c = c
        return c

    def call(self, method, path, body=None, ctype=None):
        for attempt in range(3):
            c = self.conn()
            try:
                headers = {"Content-Type": ctype} if ctype else {}
                c.request(method, "/api/v1" + path, body=body, headers=headers)
                r = c.getresponse()
                data = r.read()
                if r.status >= 300:
                    raise RuntimeError(f"{method} {path}: HTTP {r.status}: {data[:300]!r}")
                return json.loads(data) if data else None
            except (http.client.HTTPException, ConnectionError):
                self.local.c = None
                if attempt == 2:
                    raise

    def create_flow(self, yaml):
        self.call("POST", "/flows", yaml.encode(), "application/x-yaml")

    def run(self, ns, fid, limit=None):
        """Runs an execution to its end; None when it is not over after `limit` seconds."""
        if limit is not None:
            c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=limit)
            try:
                c.request("POST", f"/api/v1/executions/{ns}/{fid}?wait=true", body=b"")
                created = json.loads(c.getresponse().read())
            except (TimeoutError, socket.timeout):
                return None
            finally:
                c.close()
            return self.call("GET", f"/executions/{created['id']}")
        created = self.call("POST", f"/executions/{ns}/{fid}?wait=true", b"")
        return self.call("GET", f"/executions/{created['id']}")

    def commit_probe(self, n=200):
        """PostgreSQL only: median milliseconds of one single-row INSERT + commit in the
        workload's database, timed by psql (the WAL flush the store pays on every commit)."""
        if not self.database:
            return None
        # a plain table: writes to a temporary one are not WAL-logged, so their commits do not wait for a flush
        script = ("create table bench_commit_probe (x int);\n\\timing on\n"
                  + "insert into bench_commit_probe values (1);\n" * n
                  + "\\timing off\ndrop table bench_commit_probe;\n")
        out = subprocess.run(["psql", "-q", "-h", "127.0.0.1", "-U", "postgres", "-d", self.database],
                             input=script, capture_output=True, text=True).stdout
        times = [float(t) for t in re.findall(r"^Time: ([\d.]+) ms", out, re.M)]
        return statistics.median(times) if times else None

    def stop(self):
        lifetime = {}
        if self.proc.poll() is None:
            os.kill(self.pid, signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.kill(self.pid, signal.SIGKILL)
                self.proc.wait()
        self.logfile.close()
        try:
            lifetime = parse_gnu_time(open(self.timefile).read())
        except OSError:
            pass
        if self.database:
            subprocess.run(["psql", "-q", "-h", "127.0.0.1", "-U", "postgres", "-c",
                            f"drop database if exists {self.database} with (force)"])
        shutil.rmtree(self.dir, ignore_errors=True)
        return lifetime


def parse_gnu_time(text):
    def grab(pattern):
        m = re.search(pattern, text)
        return m.group(1) if m else None
    out = {}
    u, s = grab(r"User time \(seconds\): ([\d.]+)"), grab(r"System time \(seconds\): ([\d.]+)")
    if u and s:
        out["cpu_s"] = float(u) + float(s)
    rss = grab(r"Maximum resident set size \(kbytes\): (\d+)")
    if rss:
        out["peak_rss_mb"] = int(rss) / 1024
    wall = grab(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)")
    if wall:
        parts = [float(p) for p in wall.split(":")]
        out["wall_s"] = sum(p * 60 ** (len(parts) - 1 - k) for k, p in enumerate(parts))
    return out


def cpu_ticks():
    """(steal, total) jiffies of all CPUs (/proc/stat)."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    # user nice system idle iowait irq softirq steal (guest time is already inside user)
    return fields[7] if len(fields) > 7 else 0, sum(fields[:8])


def steal_pct(before, after):
    """Share of the CPU time the hypervisor gave to other guests between two cpu_ticks()."""
    total = after[1] - before[1]
    return 100.0 * (after[0] - before[0]) / total if total > 0 else 0.0


def fsync_probe(directory, n=100):
    """Milliseconds per 4 KiB write + fsync in the directory the data lives in (median)."""
    path = os.path.join(directory, f".fsync-probe-{os.getpid()}")
    times = []
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        for _ in range(n):
            t = time.perf_counter()
            os.write(fd, b"x" * 4096)
            os.fsync(fd)
            times.append(time.perf_counter() - t)
    finally:
        os.close(fd)
        os.unlink(path)
    return statistics.median(times) * 1000


# ------------------------------------------------------------------ workloads


# The smoke run's sizes of d1000 and c; the peers' ForEach and burst take the same in a smoke run,
# so that the ratios compare equal work.
SMOKE_FOREACH, SMOKE_DRAIN = 300, 30
# a warm-up goes on until --warmup-s of runs, but never beyond this many runs
MAX_WARMUPS = 30


def summarize(values):
    values = [v for v in values if v is not None]
    if not values:
        return None
    return {"median": statistics.median(values), "min": min(values), "max": max(values),
            "n": len(values)}


class Suite:
    def __init__(self, args):
        self.args = args
        self.bin = os.path.abspath(args.bin)
        self.tmp = tempfile.mkdtemp(prefix="saker-suite-")
        self._id = 0
        self.smoke = args.smoke
        self.runs = 1 if args.smoke else args.runs
        self.warmup = 0 if args.smoke else 1

    def next_id(self):
        self._id += 1
        return self._id

    def measured_runs(self, one_run_s):
        """--runs, or more for short workloads: enough to measure about --measure-s in all (a
        median of 25 runs of 20 ms moves less between two invocations than one of 5)."""
        if self.smoke:
            return 1
        wanted = int(self.args.measure_s / max(one_run_s, 1e-3)) + 1
        return max(self.runs, min(self.args.max_runs, wanted))

    def size(self, full, smoke):
        return smoke if self.smoke else full

    def workloads(self):
        """(key, title, kind, flow builder, server environment) in the order they run."""
        s = self.size
        # a2x: a2 with every shell spawned, the cost without the shell fork server.
        spawn = {"SAKER_SHELL_FORK_SERVER": "false"}
        return [
            ("a1", f"{s(40, 40)} sequential Return", "seq", lambda f: seq_flow(f, s(40, 40), "return")),
            ("a2", f"{s(40, 10)} sequential shell `true`", "seq", lambda f: seq_flow(f, s(40, 10), "shell")),
            ("a2x", f"{s(40, 10)} sequential shell `true`, every `/bin/sh` spawned", "seq",
             lambda f: seq_flow(f, s(40, 10), "shell"), spawn),
            ("a3", f"{s(40, 3)} sequential Python fibo(10)", "seq", lambda f: seq_flow(f, s(40, 3), "python")),
            ("b10", f"{s(10, 3)} parallel shell `sleep 1`", "par", lambda f: parallel_shell_flow(f, s(10, 3))),
            ("b1000", f"{s(1000, 20)} parallel Sleep PT1S", "par",
             lambda f: foreach_flow(f, s(1000, 20), "sleep", 0)),
            ("d100", "ForEach over 100 values", "foreach", lambda f: foreach_flow(f, 100, "return", 1)),
            ("d1000", f"ForEach over {s(1000, SMOKE_FOREACH)} values", "foreach",
             lambda f: foreach_flow(f, s(1000, SMOKE_FOREACH), "return", 1)),
            ("d10000", f"ForEach over {s(10000, 1000)} values", "foreach",
             lambda f: foreach_flow(f, s(10000, 1000), "return", 1)),
        ]

    def run_flow_workload(self, db, key, title, kind, build, env=None):
        server = Server(self, db, env)
        try:
            fsync = fsync_probe(server.dir)
            commit = server.commit_probe()
            fid = f"w{key}"
            server.create_flow(build(fid))
            rows = []
            limit = None
            if key == "d10000" and not self.smoke:
                # minutes per run through a durable store on a loaded machine: one bounded run
                limit = 150
            steal0 = cpu_ticks()
            warmups, runs, spent, i = 0, None, 0.0, 0
            while runs is None or i < warmups + runs:
                load = load1()
                cpu0 = server.cpu()
                execution = server.run("bench", fid, limit)
                if execution is None:
                    log(f"{db} {key}: not over after {limit} s")
                    return {"title": title, "fsync_ms": fsync, "kind": kind,
                            "timeout": f"not over after {limit} s (1 run, stopped)"}
                cpu1 = server.cpu()
                p = phases(execution)
                if p["state"] != "SUCCESS":
                    raise RuntimeError(f"{key} ended {p['state']}")
                warm = runs is None  # warming up until decided otherwise, after each run
                if limit is not None or self.smoke:
                    warm, warmups, runs = False, 0, 1  # one run, measured
                elif warm:
                    warmups, spent = warmups + 1, spent + p["total"]
                    if (warmups >= self.warmup and spent >= self.args.warmup_s) or warmups >= MAX_WARMUPS:
                        runs = self.measured_runs(p["total"])
                p.update(warmup=warm, load1=load, cpu_s=cpu1 - cpu0)
                rows.append(p)
                log(f"{db} {key} {'warm-up' if p['warmup'] else 'run'} {i}: total {p['total']*1000:.1f} ms "
                    f"({p['task_runs']} task runs, load {load})")
                i += 1
            steal = steal_pct(steal0, cpu_ticks())
            hwm = server.status_kb("VmHWM") / 1024
        finally:
            lifetime = server.stop()
        measured = [r for r in rows if not r["warmup"]]
        return {
            "title": title, "fsync_ms": fsync, "commit_ms": commit, "steal_pct": steal,
            "warmups": len(rows) - len(measured), "peak_rss_mb": hwm, "lifetime": lifetime,
            "runs": [{k: v for k, v in r.items() if k != "steps"} for r in rows],
            "total": summarize([r["total"] for r in measured]),
            "dispatch": summarize([r["dispatch_med"] for r in measured]),
            "run": summarize([r["run_med"] for r in measured]),
            # between consecutive task runs: meaningful only when they run one after another
            "handoff": summarize([r["handoff_med"] for r in measured]) if kind != "par" else None,
            "orchestration": summarize([r["total"] - r["run_union" if kind == "par" else "run_sum"]
                                        for r in measured]),
            "cpu_s": summarize([r["cpu_s"] for r in measured]),
            "load1": summarize([r["load1"] for r in measured]),
            "task_runs": measured[-1]["task_runs"],
            # the step series of the median run, for the chart
            "steps": sorted(measured, key=lambda r: r["total"])[len(measured) // 2]["steps"],
        }

    def run_drain(self, db):
        """c: N executions of a 3-Return flow posted at once (32 client threads)."""
        n = self.size(1000, SMOKE_DRAIN)
        rows, fsync, commit, hwm, lifetime = [], [], [], 0.0, {}
        for i in range(self.warmup + self.runs):
            # A fresh server and database per run: on one database each run finds the executions
            # of the runs before it, and the PostgreSQL drain grew run after run (7 → 16 s over
            # 6 runs), so the median depended on the number of runs.
            server = Server(self, db)
            try:
                fsync.append(fsync_probe(server.dir))
                commit.append(server.commit_probe())
                ns = f"bench.drain{i}"
                server.create_flow(three_returns("three", ns))
                load, cpu0 = load1(), server.cpu()
                t0 = time.perf_counter()
                with ThreadPoolExecutor(32) as pool:
                    list(pool.map(lambda _: server.call("POST", f"/executions/{ns}/three", b""),
                                  range(n)))
                posted = time.perf_counter() - t0
                deadline = time.time() + 600
                while True:
                    found = server.call("GET", f"/executions/search?namespace={ns}&state=SUCCESS&size=1")
                    if found["total"] >= n:
                        break
                    failed = server.call("GET", f"/executions/search?namespace={ns}&state=FAILED&size=1")
                    if failed["total"] or time.time() > deadline:
                        raise RuntimeError(f"drain: {failed['total']} failed / timeout")
                    time.sleep(0.02)
                cpu1 = server.cpu()
                execs = []
                page = 1
                while len(execs) < n:
                    got = server.call("GET", f"/executions/search?namespace={ns}&size=500&page={page}")
                    execs += got["results"]
                    page += 1
                    if not got["results"]:
                        break
                created = [at(e["state"]["histories"][0]["date"]) for e in execs]
                ended = [at(e["state"]["histories"][-1]["date"]) for e in execs]
                durations = sorted(b - a for a, b in zip(created, ended))
                drain = max(ended) - min(created)
                row = {"drain_s": drain, "exec_per_s": n / drain, "posted_s": posted,
                       "after_last_post_s": max(ended) - max(created),
                       "latency_p50": durations[len(durations) // 2],
                       "latency_p99": durations[min(len(durations) - 1, int(len(durations) * 0.99))],
                       "cpu_s": cpu1 - cpu0, "load1": load, "warmup": i < self.warmup}
                rows.append(row)
                log(f"{db} c run {i}: {n} executions drained in {drain:.2f} s (posting {posted:.2f} s)")
                hwm = max(hwm, server.status_kb("VmHWM") / 1024)
            finally:
                lifetime = server.stop()
        measured = [r for r in rows if not r["warmup"]]
        commit = [c for c in commit if c is not None]
        out = {"title": f"{n} executions × 3 Return posted at once", "n": n,
               "fsync_ms": statistics.median(fsync), "commit_ms": statistics.median(commit) if commit else None,
               "peak_rss_mb": hwm, "lifetime": lifetime, "runs": rows}
        for k in ("drain_s", "exec_per_s", "posted_s", "after_last_post_s", "latency_p50",
                  "latency_p99", "cpu_s", "load1"):
            out[k] = summarize([r[k] for r in measured])
        return out

    def run_startup(self, db):
        """e: start → /ping answers; RSS after one idle second."""
        ready, idle = [], []
        for i in range(self.warmup + self.runs):
            server = Server(self, db)
            try:
                time.sleep(1)
                if i >= self.warmup:
                    ready.append(server.ready_s)
                    idle.append(server.status_kb("VmRSS") / 1024)
            finally:
                server.stop()
        log(f"{db} e: ready {statistics.median(ready)*1000:.1f} ms, idle RSS {statistics.median(idle):.1f} MB")
        return {"ready_s": summarize(ready), "idle_rss_mb": summarize(idle)}

    def wanted(self, key):
        return not self.args.workloads or key in self.args.workloads.split(",")

    def run_saker(self, db):
        out = {}
        if self.wanted("e"):
            out["e"] = self.run_startup(db)
        for key, title, kind, build, *env in self.workloads():
            if self.wanted(key):
                out[key] = self.run_flow_workload(db, key, title, kind, build, *env)
                out[key]["kind"] = kind
        if self.wanted("c"):
            out["c"] = self.run_drain(db)
        return out

    def run_lateness(self):
        if not self.args.lateness:
            return {"skipped": "no lateness binary"}
        flows, seconds = self.size(1000, 20), self.size(10, 3)
        rows = []
        for i in range(1 if self.smoke else min(self.runs, 3)):
            tf = os.path.join(self.tmp, "lateness-time.txt")
            load = load1()
            out = subprocess.run(["/usr/bin/time", "-v", "-o", tf, self.args.lateness, str(flows),
                                  str(seconds)], capture_output=True, text=True, check=True).stdout
            m = dict(re.findall(r"(\w+)=([\d./]+)", out))
            t = parse_gnu_time(open(tf).read())
            rows.append({"p50_ms": float(m["p50"]),
                         "p99_ms": float(m["p99"]), "max_ms": float(m["max"]),
                         "launches": int(m["launches"]), "doubled": int(m["doubled"]),
                         "ticks": m.get("ticks_in_range"), "load1": load, **t})
            log(f"f run {i}: {out.strip()}")
        return {"flows": flows, "seconds": seconds, "runs": rows,
                **{k: summarize([r[k] for r in rows]) for k in ("p50_ms", "p99_ms", "max_ms", "cpu_s", "peak_rss_mb", "load1")}}

    def run_callgrind(self):
        if not self.args.apply_bench:
            return {"skipped": "no apply bench binary"}
        if self.smoke:
            # A debug build under valgrind takes minutes: the smoke run only checks the bench runs.
            env = dict(os.environ, SAKER_BENCH_STEPS="5", SAKER_BENCH_RUNS="100")
            subprocess.run([self.args.apply_bench], env=env, check=True, stdout=subprocess.DEVNULL)
            return {"skipped": "smoke run (the bench binary ran 5 steps natively)"}
        if not shutil.which("valgrind"):
            return {"skipped": "valgrind is not installed"}
        out = {}
        steps = self.size(1000, 20)
        for n in self.size([100, 1000, 10000], [100]):
            cg = os.path.join(self.tmp, f"callgrind.{n}.out")
            env = dict(os.environ, SAKER_BENCH_STEPS=str(steps), SAKER_BENCH_RUNS=str(n))
            subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={cg}",
                            "--collect-atstart=no", "--toggle-collect=*measured_step*",
                            self.args.apply_bench], env=env, check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            text = open(cg).read()
            m = re.search(r"^(?:summary|totals): (\d+)", text, re.M)
            out[str(n)] = int(m.group(1)) / steps
            log(f"callgrind foreach_step/{n}: {out[str(n)]:.0f} instructions per step")
        return {"steps": steps, "per_step": out}


# ------------------------------------------------------------------ peers


# Each peer workload: (workload, database). The database is the peer's default (SQLite) except for
# Prefect's burst: on SQLite, 200 flow runs created at once make SQLite answer "database is locked"
# (a deferred transaction cannot upgrade to a write lock while another connection writes, and the
# busy timeout does not apply to that case); Prefect's server turns it into 503, its client gives
# up after 5 retries with exponential back-off, and the workload fails. Prefect's own advice for
# concurrent use is PostgreSQL, so that workload runs there (a throw-away database on the same
# PostgreSQL server as Saker's PostgreSQL column).
PEER_WORKLOADS = {
    "prefect": [("startup", "sqlite"), ("seq40", "sqlite"), ("shell100", "sqlite"),
                ("par10sleep1", "sqlite"), ("foreach", "sqlite"), ("burst", "postgres")],
    "airflow": [("startup", "sqlite"), ("seq40", "sqlite"), ("shell100", "sqlite"),
                ("par10sleep1", "sqlite"), ("foreach", "sqlite"), ("burst", "sqlite")],
}
PEER_PACKAGE = {"prefect": "prefect", "airflow": "apache-airflow"}
PEER_MODE = {"prefect": "ephemeral (client + temporary API server)",
             "airflow": "dags test (DAG.test(), tasks in-process)"}


def psql(sql):
    subprocess.run(["psql", "-q", "-h", "127.0.0.1", "-U", "postgres", "-c", sql], check=True,
                   stdout=subprocess.DEVNULL)


def install_peer(peer):
    """Creates /tmp/peers/<peer> as shared/bench/peers/README.md says; returns the seconds taken."""
    venv = os.path.join(PEER_VENVS, peer)
    requirements = os.path.join(PEERS_DIR, peer, "requirements.txt")
    log(f"{peer}: installing into {venv} (pinned {requirements})")
    t0 = time.perf_counter()
    shutil.rmtree(venv, ignore_errors=True)
    os.makedirs(PEER_VENVS, exist_ok=True)
    pip = os.path.join(venv, "bin", "pip")
    for cmd in ([sys.executable, "-m", "venv", venv], [pip, "install", "-q", "-U", "pip"],
                [pip, "install", "-q", "-r", requirements]):
        p = subprocess.run(cmd, capture_output=True, text=True)
        if p.returncode != 0:
            shutil.rmtree(venv, ignore_errors=True)
            raise RuntimeError(f"{peer}: {' '.join(cmd)} failed: {p.stderr[-1000:]}")
    took = time.perf_counter() - t0
    log(f"{peer}: installed in {took:.0f} s")
    return took


class PeerState:
    """A pristine peer state (its home directory with a migrated SQLite database, and for Prefect
    a migrated PostgreSQL template database), copied afresh before every run: runs do not see the
    flow runs of the runs before them, so the tenth run works on the same database as the first."""

    def __init__(self, peer, py, env, tmp):
        self.peer, self.py, self.env = peer, py, env
        self.home = os.path.join(tmp, f"{peer}-pristine")
        self.runs_dir = tmp
        self.template = None
        self._n = 0
        env = self.env_for(self.home, None)
        if peer == "airflow":
            subprocess.run([os.path.join(os.path.dirname(py), "airflow"), "db", "migrate"], env=env,
                           check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        else:
            self.prepare(env)

    def prepare(self, env):
        """One throw-away flow run: the ephemeral server creates and migrates the database."""
        p = subprocess.run([self.py, os.path.join(PEERS_DIR, self.peer, "bench.py"), "startup"],
                           env=env, capture_output=True, text=True, timeout=900)
        if p.returncode != 0:
            raise RuntimeError(f"{self.peer}: preparing its database failed: {p.stderr[-500:]}")

    def env_for(self, home, database):
        env = dict(self.env)
        if self.peer == "prefect":
            env["PREFECT_HOME"] = home
            if database:
                env["PREFECT_API_DATABASE_CONNECTION_URL"] = \
                    f"postgresql+asyncpg://postgres@127.0.0.1:5432/{database}"
        else:
            # airflow.cfg, written on first use, holds absolute paths into the home it was made
            # in: the copies leave it out and name their own database
            env["AIRFLOW_HOME"] = home
            env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = f"sqlite:///{home}/airflow.db"
        return env

    def fresh(self, db):
        """(env, cleanup) for one run on a copy of the pristine state."""
        self._n += 1
        home = os.path.join(self.runs_dir, f"{self.peer}-run-{self._n}")
        shutil.copytree(self.home, home, ignore=shutil.ignore_patterns("airflow.cfg", "logs"))
        database = None
        if db == "postgres":
            if self.template is None:
                self.template = f"peers_{self.peer}_tpl_{os.getpid()}"
                psql(f"create database {self.template}")
                self.prepare(self.env_for(os.path.join(self.runs_dir, f"{self.peer}-tpl"), self.template))
            database = f"peers_{self.peer}_{os.getpid()}_{self._n}"
            psql(f"create database {database} template {self.template}")

        def cleanup():
            shutil.rmtree(home, ignore_errors=True)
            if database:
                psql(f"drop database if exists {database} with (force)")
        return self.env_for(home, database), cleanup

    def close(self):
        if self.template:
            psql(f"drop database if exists {self.template} with (force)")


def run_peer_process(py, script, wl, env, timeout):
    """One fresh process of a peer's bench script: (JSON records, GNU time figures, error)."""
    fd, tf = tempfile.mkstemp(prefix="peer-time-")
    os.close(fd)
    try:
        p = subprocess.run(["/usr/bin/time", "-v", "-o", tf, "timeout", "-k", "10", str(timeout),
                            py, script, wl], env=env, capture_output=True, text=True)
        t = parse_gnu_time(open(tf).read())
    finally:
        os.unlink(tf)
    recs = [json.loads(line) for line in p.stdout.splitlines() if line.startswith('{"peer"')]
    if p.returncode != 0 or not recs:
        return recs, t, f"rc={p.returncode}: {p.stderr[-300:]}"
    return recs, t, None


def run_peers(args):
    """Each peer, one at a time, each workload in a fresh process: warm-up then --runs measured
    runs (anchors.md §6.1), fewer when the warm-up shows they would not fit in --peer-budget."""
    results = {}
    smoke = args.smoke
    warmups, runs = (0, 1) if smoke else (1, args.runs)
    for peer in args.peer_names.split(","):
        workloads = PEER_WORKLOADS[peer]
        t_peer = time.perf_counter()
        py = os.path.join(PEER_VENVS, peer, "bin", "python")
        installed = None
        if not os.path.exists(py):
            try:
                installed = install_peer(peer)
            except RuntimeError as e:
                results[peer] = {"skipped": str(e)[:500]}
                log(str(e))
                continue
        env = dict(os.environ)
        for k in [k for k in env if k.startswith(("PREFECT_", "AIRFLOW_", "AIRFLOW__", "BENCH_"))]:
            del env[k]
        if peer == "prefect":
            env.update(PREFECT_SERVER_ANALYTICS_ENABLED="false",
                       # its 20 s default is too short on a loaded 2-core machine
                       PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS="180")
        else:
            env.update(AIRFLOW__CORE__LOAD_EXAMPLES="False",
                       AIRFLOW__CORE__DAGS_FOLDER=os.path.join(PEERS_DIR, "airflow", "dags"))
        if smoke:
            env.update(BENCH_BURST_N=str(SMOKE_DRAIN), BENCH_FOREACH_N=str(SMOKE_FOREACH))
        version = subprocess.run([py, "-c", f"import importlib.metadata as m; print(m.version('{PEER_PACKAGE[peer]}'))"],
                                 capture_output=True, text=True).stdout.strip()
        interp = subprocess.run([py, "-c", "import sys; print(sys.executable, sys.version.split()[0])"],
                                capture_output=True, text=True).stdout.strip()
        tmp = tempfile.mkdtemp(prefix=f"saker-bench-{peer}-")
        state = None
        rows, plan = {}, {}
        try:
            state = PeerState(peer, py, env, tmp)
            script = os.path.join(PEERS_DIR, peer, "bench.py")
            for wl, db in workloads:
                reps, rep, cut = warmups + runs, 0, None
                while rep < reps:
                    warm = rep < warmups
                    run_env, cleanup = state.fresh(db)
                    load = load1()
                    t0 = time.perf_counter()
                    try:
                        recs, t, err = run_peer_process(py, script, wl, run_env, args.peer_timeout)
                    finally:
                        cleanup()
                    wall = time.perf_counter() - t0
                    if err:
                        rows.setdefault(wl, []).append({"failed": err, "load1": load, "warmup": warm, "db": db})
                        log(f"{peer} {wl} rep {rep}: FAILED {err[:200]}")
                    else:
                        for r in recs:
                            rows.setdefault(r["workload"], []).append({**r, **t, "load1": load, "warmup": warm, "db": db})
                        log(f"{peer} {wl} {'warm-up' if warm else 'run'} {rep}: "
                            + ", ".join(f"{r['workload']}={r['seconds']:.3f}s" for r in recs)
                            + f" (process {wall:.1f} s, load {load})")
                    if warm and rep == warmups - 1 and args.peer_budget and wall * runs > args.peer_budget:
                        fit = max(1, int(args.peer_budget // wall))
                        cut = (f"{fit} of {runs} runs: one takes {wall:.0f} s, the budget per "
                               f"workload is {args.peer_budget:.0f} s")
                        reps = warmups + fit
                        log(f"{peer} {wl}: {cut}")
                    rep += 1
                plan[wl] = {"db": db, "cut": cut}
        except (RuntimeError, subprocess.SubprocessError, OSError) as e:
            results[peer] = {"skipped": f"{peer}: {e}"[:500]}
            log(f"{peer}: {e}")
            continue
        finally:
            if state:
                state.close()
            shutil.rmtree(tmp, ignore_errors=True)
        summary = {}
        for wl, rs in rows.items():
            measured = [r for r in rs if not r["warmup"]]
            ok = [r for r in measured if "failed" not in r]
            base = next((p for w, p in plan.items() if wl.startswith(w)), {})
            summary[wl] = {"seconds": summarize([r["seconds"] for r in ok]), "n": ok[0]["n"] if ok else None,
                           "cpu_s": summarize([r.get("cpu_s") for r in ok]),
                           "peak_rss_mb": summarize([r.get("peak_rss_mb") for r in ok]),
                           "load1": summarize([r["load1"] for r in measured]),
                           "warmup_seconds": [r.get("seconds") for r in rs if r["warmup"]],
                           "db": base.get("db", "sqlite"), "cut": base.get("cut"),
                           "failed": [r["failed"] for r in rs if "failed" in r]}
        results[peer] = {"version": version, "mode": PEER_MODE[peer], "python": interp,
                         "workloads": summary, "seconds": time.perf_counter() - t_peer,
                         "installed_s": installed}
    return results


# ------------------------------------------------------------------ machine


def sh(cmd):
    try:
        return subprocess.run(cmd, shell=True, capture_output=True, text=True, timeout=30).stdout.strip()
    except Exception:  # noqa: BLE001 (a missing tool only leaves a field empty)
        return ""


def machine(bin_path):
    mem = sh("grep MemTotal /proc/meminfo | awk '{printf \"%.1f GiB\", $2/1048576}'")
    return {
        "cpu": sh("lscpu | sed -n 's/^Model name: *//p' | head -1"),
        "cores": os.cpu_count(),
        "ram": mem,
        "kernel": platform.release(),
        "disk": sh("df -T /tmp | tail -1 | awk '{print $1\" \"$2}'"),
        "os": sh(". /etc/os-release && echo $PRETTY_NAME"),
        "commit": sh(f"git -C {ROOT} rev-parse --short HEAD") + (" (dirty)" if sh(f"git -C {ROOT} status --porcelain -- crates") else ""),
        "rustc": sh("rustc --version"),
        "binary": bin_path,
        "python": f"{sys.executable} {platform.python_version()}",
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    }


def supports_pg(bin_path):
    out = subprocess.run([bin_path, "server", "local", "--help"], capture_output=True, text=True).stdout
    return "--database-url" in out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", default="", help="the saker binary")
    ap.add_argument("--lateness", help="the saker-scheduler lateness example binary")
    ap.add_argument("--apply-bench", help="the saker-engine apply bench binary (callgrind)")
    ap.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    ap.add_argument("--peers", action="store_true", help="also run Prefect and Airflow")
    ap.add_argument("--smoke", action="store_true", help="CI-sized: one run, small sizes")
    ap.add_argument("--runs", type=int, default=5, help="measured runs after the warm-up (at least)")
    ap.add_argument("--warmup-s", type=float, default=2.0,
                    help="Saker workloads: warm-up runs (at least one) until they add up to this many seconds")
    ap.add_argument("--measure-s", type=float, default=3.0,
                    help="Saker workloads: more than --runs measured runs when they are short, "
                    "to add up to about this many seconds (up to --max-runs)")
    ap.add_argument("--workloads", metavar="KEYS", help="only these Saker workloads, e.g. a1,a2,c "
                    "(keys: e a1 a2 a2x a3 b10 b1000 d100 d1000 d10000 c f callgrind); for trying the suite out")
    ap.add_argument("--max-runs", type=int, default=25, help="cap of the measured runs of a short workload")
    ap.add_argument("--results", default=os.path.join(HERE, "results"),
                    help="folder of result JSON files (the doc compares with the previous one)")
    ap.add_argument("--doc", default=os.path.join(ROOT, "docs", "benchmarks.md"))
    ap.add_argument("--peer-results", help="reuse peer figures from this results JSON instead of running them")
    ap.add_argument("--peer-budget", type=float, default=600,
                    help="seconds of measured runs per peer workload: when the warm-up shows that "
                    "--runs runs take longer, as many as fit (at least 1); 0 = no limit")
    ap.add_argument("--peer-names", default="prefect,airflow", help="which peers, in this order")
    ap.add_argument("--peer-timeout", type=int, default=900, help="seconds before one peer process is killed")
    ap.add_argument("--render", metavar="FILE", help="only write the doc from a saved results JSON "
                    "(compared with the run saved before it)")
    ap.add_argument("--compare", metavar="FILE", help="with --render: the run to compare with in "
                    "the reproducibility table (default: the run saved just before)")
    ap.add_argument("--peers-only", metavar="FILE", help="run only the peers, write their results JSON to FILE")
    args = ap.parse_args()
    unknown = set(args.peer_names.split(",")) - set(PEER_WORKLOADS)
    if unknown:
        ap.error(f"--peer-names: unknown peer(s) {', '.join(sorted(unknown))} (known: {', '.join(PEER_WORKLOADS)})")
    if args.smoke and args.doc == os.path.join(ROOT, "docs", "benchmarks.md"):
        args.doc = None  # the smoke run never rewrites the published figures
        args.results = None

    if args.render:
        import report  # noqa: E402 (bench/report.py, beside this file)
        files = sorted(glob.glob(os.path.join(os.path.dirname(os.path.abspath(args.render)), "run-*.json")))
        result = json.load(open(args.render))
        result["file"] = os.path.basename(args.render)
        earlier = [f for f in files if os.path.basename(f) < result["file"]]
        if args.compare:
            earlier = [args.compare]
        previous = json.load(open(earlier[-1])) if earlier else None
        if previous is not None:
            previous["file"] = os.path.basename(earlier[-1])
        with open(args.doc, "w") as f:
            f.write(report.render(result, previous, os.path.join(HERE, "template.md")))
        report.write_charts(result, os.path.join(os.path.dirname(args.doc), "benchmarks"))
        log(f"wrote {args.doc}")
        return

    if args.peers_only:
        started = load1()
        t0 = time.perf_counter()
        peers = run_peers(args)
        with open(args.peers_only, "w") as f:
            json.dump({"machine": machine(""), "peers": peers, "started_load1": started,
                       "peers_seconds": time.perf_counter() - t0,
                       "finished_load1": load1()}, f, indent=1, sort_keys=True)
        return

    suite = Suite(args)
    result = {"machine": machine(suite.bin), "smoke": args.smoke, "runs": suite.runs,
              "warmup": suite.warmup, "warmup_s": args.warmup_s, "measure_s": args.measure_s,
              "max_runs": args.max_runs, "saker": {}, "started_load1": load1()}
    try:
        dbs = ["sqlite", "postgres"] if args.db == "both" else [args.db]
        for db in dbs:
            if db == "postgres" and not supports_pg(suite.bin):
                result["saker"][db] = {"skipped": "not run: this saker binary has no `server local --database-url` yet"}
                log("postgres: not run (no --database-url)")
                continue
            result["saker"][db] = suite.run_saker(db)
        result["f"] = suite.run_lateness() if suite.wanted("f") else {"skipped": "not asked for (--workloads)"}
        result["callgrind"] = (suite.run_callgrind() if suite.wanted("callgrind")
                               else {"skipped": "not asked for (--workloads)"})
        if args.peers:
            t0 = time.perf_counter()
            result["peers"] = run_peers(args)
            result["peers_seconds"] = time.perf_counter() - t0
        elif args.peer_results:
            earlier = json.load(open(args.peer_results))
            result["peers"] = earlier.get("peers", {})
            result["peers_from"] = {"file": os.path.basename(args.peer_results),
                                    "date": earlier.get("machine", {}).get("date"),
                                    "load1": [earlier.get("started_load1"), earlier.get("finished_load1")]}
    finally:
        shutil.rmtree(suite.tmp, ignore_errors=True)
    result["finished_load1"] = load1()

    previous = None
    if args.results:
        os.makedirs(args.results, exist_ok=True)
        files = sorted(glob.glob(os.path.join(args.results, "run-*.json")))
        previous = json.load(open(files[-1])) if files else None
        name = "run-" + dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ") + ".json"
        with open(os.path.join(args.results, name), "w") as f:
            json.dump(result, f, indent=1, sort_keys=True)
        result["file"] = name
        if previous is not None:
            previous["file"] = os.path.basename(files[-1])
    import report  # noqa: E402 (bench/report.py, beside this file)
    doc = report.render(result, previous, os.path.join(HERE, "template.md"))
    if args.doc:
        with open(args.doc, "w") as f:
            f.write(doc)
        report.write_charts(result, os.path.join(os.path.dirname(args.doc), "benchmarks"))
        log(f"wrote {args.doc}")
    else:
        sys.stdout.write(doc)


if __name__ == "__main__":
    sys.path.insert(0, HERE)
    main()
