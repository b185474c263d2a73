#!/usr/bin/env python3
"""Posts N executions of a 3-Return flow to a running `saker server local` at once (32 client
threads) and reports how long until every one is SUCCESS.

usage: bench/server-drain.py PORT [N]
"""
import json
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor

port = int(sys.argv[1])
count = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
base = f"http://127.0.0.1:{port}/api/v1"
namespace = f"bench.drain{int(time.time())}"
flow = (
    f"id: three\nnamespace: {namespace}\ntasks:\n"
    + "".join(
        f"  - id: {t}\n    type: io.kestra.plugin.core.debug.Return\n    format: {t}\n"
        for t in "abc"
    )
).encode()
urllib.request.urlopen(
    urllib.request.Request(
        base + "/flows", data=flow, method="POST",
        headers={"Content-Type": "application/x-yaml"},
    )
)


def post(_):
    request = urllib.request.Request(
        f"{base}/executions/{namespace}/three", data=b"", method="POST"
    )
    return json.loads(urllib.request.urlopen(request).read())["id"]


start = time.time()
with ThreadPoolExecutor(32) as pool:
    ids = list(pool.map(post, range(count)))
posted = time.time() - start
while True:
    found = json.loads(
        urllib.request.urlopen(
            f"{base}/executions/search?namespace={namespace}&state=SUCCESS&size=1"
        ).read()
    )
    if found["total"] >= count:
        break
    time.sleep(0.02)
print(f"posted {count} in {posted:.2f}s, all SUCCESS after {time.time() - start:.2f}s")
