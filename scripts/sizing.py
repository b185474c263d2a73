#!/usr/bin/env python3
"""Sizing figures for docs/deploy.md: one `saker server local` (store and queue on PostgreSQL,
no in-process workers) and one `saker server worker`, under a steady load of executions of a
3-task flow (Return, a shell command, Return). Prints the RSS and CPU time of each process and
the PostgreSQL connections they hold.

    scripts/sizing.py --bin target/release/saker --db postgres://postgres@127.0.0.1:5432/postgres

A throw-away database `saker_sizing_<pid>` is created on that server and dropped at the end.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request

FLOW = """id: sized
namespace: ops
tasks:
  - id: first
    type: io.kestra.plugin.core.debug.Return
    format: "{{ execution.id }}"
  - id: shell
    type: io.kestra.plugin.scripts.shell.Commands
    taskRunner:
      type: io.kestra.plugin.core.runner.Process
    commands:
      - echo {{ outputs.first.value }}
  - id: last
    type: io.kestra.plugin.core.debug.Return
    format: "done"
"""


def http(port, method, path, body=None, ctype=None):
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=body, method=method)
    if ctype:
        request.add_header("Content-Type", ctype)
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read() or b"null")


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    # utime, stime, cutime, cstime (children: the shell commands the worker runs)
    return sum(int(f) for f in fields[11:15]) / ticks


def psql(admin, sql, database=None):
    url = admin if database is None else admin.rsplit("/", 1)[0] + "/" + database
    return subprocess.run(["psql", url, "-Atc", sql], check=True, capture_output=True, text=True).stdout.strip()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bin", required=True)
    parser.add_argument("--db", default="postgres://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--rate", type=float, default=5.0, help="executions per second")
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args()

    name = f"saker_sizing_{os.getpid()}"
    psql(args.db, f'CREATE DATABASE "{name}"')
    url = args.db.rsplit("/", 1)[0] + "/" + name
    port = 18000 + os.getpid() % 1000
    procs = []
    try:
        with tempfile.TemporaryDirectory() as work:
            server = subprocess.Popen(
                [args.bin, "server", "local", "--port", str(port), "--database-url", url,
                 "--queue-url", url, "--workers", "0"],
                cwd=work, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            procs.append(server)
            for _ in range(600):
                try:
                    http(port, "GET", "/ping")
                    break
                except Exception:
                    time.sleep(0.1)
            worker = subprocess.Popen(
                [args.bin, "server", "worker", "--threads", str(args.threads), "--queue-url", url,
                 "--database-url", url, "--data-dir", "data"],
                cwd=work, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            procs.append(worker)
            http(port, "POST", "/api/v1/flows", FLOW.encode(), "application/x-yaml")
            idle = {"server": rss_kib(server.pid), "worker": rss_kib(worker.pid)}
            cpu0 = {"server": cpu_seconds(server.pid), "worker": cpu_seconds(worker.pid)}
            peak = dict(idle)
            connections = 0
            ids = []
            start = time.time()
            while time.time() - start < args.seconds:
                due = int((time.time() - start) * args.rate)
                while len(ids) < due:
                    ids.append(http(port, "POST", "/api/v1/executions/ops/sized")["id"])
                peak["server"] = max(peak["server"], rss_kib(server.pid))
                peak["worker"] = max(peak["worker"], rss_kib(worker.pid))
                connections = max(connections, int(psql(
                    args.db, f"SELECT count(*) FROM pg_stat_activity WHERE datname = '{name}'")))
                time.sleep(0.2)
            elapsed = time.time() - start
            cpu = {k: (cpu_seconds(p.pid) - cpu0[k]) for k, p in (("server", server), ("worker", worker))}
            deadline = time.time() + 120
            ended = 0
            while time.time() < deadline:
                ended = int(psql(args.db, "SELECT count(*) FROM executions WHERE state = 'SUCCESS'", name))
                if ended >= len(ids):
                    break
                time.sleep(0.5)
            report = {
                "executions": len(ids),
                "succeeded": ended,
                "seconds": round(elapsed, 1),
                "rss_idle_mib": {k: round(v / 1024, 1) for k, v in idle.items()},
                "rss_peak_mib": {k: round(v / 1024, 1) for k, v in peak.items()},
                "cpu_percent_of_one_core": {k: round(100 * v / elapsed, 1) for k, v in cpu.items()},
                "pg_connections_peak": connections,
                "load_average": os.getloadavg()[0],
            }
            print(json.dumps(report, indent=2))
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
        psql(args.db, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    sys.exit(main())
