"""Compares what a worker saw with what the producer enqueued.

  check_seen.py EXPECTED.json --dir DIR      pgq exec handler output: ID.payload (stdin
                                             bytes) and ID.headers ($PGQ_HEADERS)
  check_seen.py EXPECTED.json --jsonl FILE   worker.py records (event "ran")

EXPECTED maps job id -> {"payload": hex or null, "headers": JSON or null, ...}.
Every expected job must have been seen exactly once, with the same payload
bytes and the same headers (as JSON values); nothing else may have been seen.
An exec handler gets a NULL payload as empty stdin, so there NULL == b"".
"""

from __future__ import annotations

import json
import os
import sys
from collections import Counter

from common import check, fail


def seen_in_dir(directory: str) -> dict[int, dict]:
    seen = {}
    for name in os.listdir(directory):
        job_id, _, kind = name.partition(".")
        if kind != "payload":
            continue
        with open(os.path.join(directory, name), "rb") as f:
            payload = f.read()
        with open(os.path.join(directory, f"{job_id}.headers"), encoding="utf-8") as f:
            headers_text = f.read()
        seen[int(job_id)] = {
            "payload": payload.hex(),
            "headers": None if headers_text in ("", "null") else json.loads(headers_text),
        }
    return seen


def seen_in_jsonl(path: str) -> dict[int, dict]:
    runs = Counter()
    seen = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            record = json.loads(line)
            if record["event"] != "ran":
                continue
            runs[record["id"]] += 1
            seen[record["id"]] = record
    twice = [job_id for job_id, n in runs.items() if n > 1]
    check(not twice, f"jobs run more than once: {twice}")
    return seen


def main() -> None:
    with open(sys.argv[1], encoding="utf-8") as f:
        expected = {int(k): v for k, v in json.load(f).items()}
    from_exec = sys.argv[2] == "--dir"
    seen = seen_in_dir(sys.argv[3]) if from_exec else seen_in_jsonl(sys.argv[3])
    check(set(seen) == set(expected),
          f"seen ids differ: missing {sorted(set(expected) - set(seen))}, "
          f"unexpected {sorted(set(seen) - set(expected))}")
    payload_bytes = 0
    for job_id, want in expected.items():
        got = seen[job_id]
        want_payload = want["payload"]
        if want_payload is None and from_exec:
            want_payload = ""
        if got["payload"] != want_payload:
            fail(f"job {job_id}: payload {got['payload'][:80]} != {str(want_payload)[:80]}")
        if got["headers"] != want["headers"]:
            fail(f"job {job_id}: headers {got['headers']!r} != {want['headers']!r}")
        if "priority" in want and "priority" in got and got["priority"] != want["priority"]:
            fail(f"job {job_id}: priority {got['priority']} != {want['priority']}")
        payload_bytes += len(want_payload or "") // 2
    print(f"validated {len(expected)} jobs: payloads byte-exact ({payload_bytes} bytes), "
          f"headers equal, each seen once", flush=True)


if __name__ == "__main__":
    main()
