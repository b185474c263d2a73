#!/usr/bin/env python3
"""Figures of the PostgreSQL worker queue (docs/benchmarks.md, "Worker queue").

1. Shell-task throughput with 1, 2 and 3 `saker server worker` processes (THREADS threads each):
   N executions of a one-shell-task flow (`sleep 0.2`) posted at once, time until all SUCCESS.
2. Per-step latency of 40 sequential Return tasks (bench/a1-40-returns.yaml), through the queue
   (one worker) and in-process (no queue): execution duration / 40, median of RUNS runs.

usage: bench/worker-queue.py SAKER_BINARY [N] [THREADS] [RUNS]
Needs PostgreSQL at SAKER_TEST_PG_URL's server (default postgres://postgres@127.0.0.1:5432);
creates and drops its own database.
"""
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

binary = os.path.abspath(sys.argv[1])
count = int(sys.argv[2]) if len(sys.argv) > 2 else 120
threads = int(sys.argv[3]) if len(sys.argv) > 3 else 2
runs = int(sys.argv[4]) if len(sys.argv) > 4 else 5
here = os.path.dirname(os.path.abspath(__file__))
server_url = os.environ.get("SAKER_TEST_PG_URL", "postgres://postgres@127.0.0.1:5432/postgres")
admin = server_url.rsplit("/", 1)[0]


def psql(sql):
    subprocess.run(["psql", server_url, "-qAtc", sql], check=True, stdout=subprocess.DEVNULL)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def call(port, method, path, body=b"", ctype=None):
    headers = {"Content-Type": ctype} if ctype else {}
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/v1{path}", data=body, method=method, headers=headers
    )
    return json.loads(urllib.request.urlopen(request, timeout=120).read() or b"null")


def start_server(data, queue_url):
    port = free_port()
    args = [binary, "server", "local", "--port", str(port), "--data-dir", data]
    if queue_url:
        args += ["--queue-url", queue_url, "--workers", "0"]
    proc = subprocess.Popen(args, stderr=subprocess.DEVNULL)
    for _ in range(600):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=5)
            return proc, port
        except OSError:
            time.sleep(0.1)
    raise SystemExit("the server did not start")


def start_worker(data, queue_url):
    return subprocess.Popen(
        [binary, "server", "worker", "--threads", str(threads), "--data-dir", data,
         "--queue-url", queue_url],
        stderr=subprocess.DEVNULL,
    )


def wait_all(port, ids):
    pending = set(ids)
    while pending:
        for id in list(pending):
            state = call(port, "GET", f"/executions/{id}")["state"]["current"]
            if state == "SUCCESS":
                pending.discard(id)
            elif state in ("FAILED", "KILLED", "WARNING"):
                raise SystemExit(f"execution {id} ended {state}")
        time.sleep(0.05)


def stop(*procs):
    for proc in procs:
        proc.terminate()
    for proc in procs:
        proc.wait()


def parse(instant):
    return datetime.fromisoformat(instant.replace("Z", "+00:00"))


def with_queue(label, body):
    db = f"saker_bench_queue_{os.getpid()}_{label}"
    psql(f'CREATE DATABASE "{db}"')
    data = tempfile.mkdtemp(prefix="saker-bench-")
    try:
        return body(data, f"{admin}/{db}")
    finally:
        shutil.rmtree(data, ignore_errors=True)
        psql(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')


shell_flow = (
    "id: shell\nnamespace: bench\ntasks:\n  - id: s\n"
    "    type: io.kestra.plugin.scripts.shell.Commands\n"
    "    taskRunner:\n      type: io.kestra.plugin.core.runner.Process\n"
    "    commands:\n      - sleep 0.2\n      - echo done\n"
).encode()


def throughput(workers):
    def body(data, queue_url):
        server, port = start_server(data, queue_url)
        procs = [start_worker(data, queue_url) for _ in range(workers)]
        try:
            call(port, "POST", "/flows", shell_flow, "application/x-yaml")
            # Warm-up: every worker has connected and run one task.
            wait_all(port, [call(port, "POST", "/executions/bench/shell")["id"]
                            for _ in range(workers * threads)])
            start = time.time()
            with ThreadPoolExecutor(16) as pool:
                ids = list(pool.map(lambda _: call(port, "POST", "/executions/bench/shell")["id"],
                                    range(count)))
            wait_all(port, ids)
            return count / (time.time() - start)
        finally:
            stop(*procs, server)
    return with_queue(f"w{workers}", body)


def latency(queued):
    flow = open(os.path.join(here, "a1-40-returns.yaml"), "rb").read()

    def body(data, queue_url):
        server, port = start_server(data, queue_url)
        procs = [start_worker(data, queue_url)] if queue_url else []
        try:
            call(port, "POST", "/flows", flow, "application/x-yaml")
            steps = []
            for _ in range(runs + 1):
                done = call(port, "POST", "/executions/bench/a1-40-returns?wait=true")
                histories = done["state"]["histories"]
                steps.append((parse(histories[-1]["date"]) - parse(histories[0]["date"]))
                             .total_seconds() * 1000 / 40)
            return statistics.median(steps[1:])
        finally:
            stop(*procs, server)

    if queued:
        return with_queue("lat", body)
    data = tempfile.mkdtemp(prefix="saker-bench-")
    try:
        return body(data, None)
    finally:
        shutil.rmtree(data, ignore_errors=True)


for workers in (1, 2, 3):
    print(f"shell throughput, {workers} worker(s) x {threads} threads: "
          f"{throughput(workers):.1f} executions/s ({count} executions)", flush=True)
print(f"40 Returns, per step, in-process: {latency(False):.2f} ms", flush=True)
print(f"40 Returns, per step, PostgreSQL queue: {latency(True):.2f} ms", flush=True)
