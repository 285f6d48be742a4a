"""Python producer: enqueue jobs through PgQueuer's Queries.enqueue.

  enqueue.py options ENTRYPOINT EXPECTED.json
      every enqueue option: priorities, execute_after, headers (object, nested,
      unicode, none), binary payloads and NULL, dedupe keys under "raise" (a
      duplicate raises DuplicateJobError) and "skip" (a duplicate yields None).
      Writes what was enqueued, by job id, to EXPECTED.json.
  enqueue.py bulk ENTRYPOINT COUNT [PREFIX]
      COUNT jobs in one batch, payload PREFIX-<n>; prints the ids.
  enqueue.py one ENTRYPOINT PAYLOAD [--dedupe-key K] [--on-conflict raise|skip]
      one job; prints its id (null when skipped) or "duplicate".
"""

from __future__ import annotations

import argparse
import asyncio
import json
from datetime import timedelta

from pgqueuer.errors import DuplicateJobError

from common import check, dump, queries

# Payloads a text-only path would damage: NUL, invalid UTF-8, CR/LF, a big one.
PAYLOADS = [
    b"",
    b"\x00\x01\x02\xff\xfe",
    "h\u00e9llo \u2603 \U0001f600".encode(),
    b"line1\r\nline2\n\ttab \\ backslash 'quote\" ",
    bytes(range(256)) * 40,
    None,
]
HEADERS = [
    {"tenant": "acme", "trace": "00-abc-01"},
    {"nested": {"list": [1, 2.5, True, None], "empty": {}}, "\u00fcml": "\u2603"},
    None,
    {},
]


async def options(entrypoint: str, expected_path: str) -> None:
    expected = {}
    async with queries() as q:
        # A batch with every combination of payload, headers and priority.
        n = len(PAYLOADS) * len(HEADERS)
        batch_payloads = [PAYLOADS[i % len(PAYLOADS)] for i in range(n)]
        batch_headers = [HEADERS[(i // len(PAYLOADS)) % len(HEADERS)] for i in range(n)]
        priorities = [(i * 7) % 11 - 5 for i in range(n)]
        ids = await q.enqueue(
            [entrypoint] * n, batch_payloads, priorities, [None] * n, [None] * n, batch_headers
        )
        for i, job_id in enumerate(ids):
            expected[job_id] = {
                "payload": None if batch_payloads[i] is None else batch_payloads[i].hex(),
                "headers": batch_headers[i],
                "priority": priorities[i],
                "delay": 0,
            }
        # execute_after: deferred jobs must not run before their time.
        for delay in (1.5, 2.5):
            (job_id,) = await q.enqueue(
                entrypoint, b"deferred", 9, timedelta(seconds=delay), None, {"deferred": str(delay)}
            )
            expected[job_id] = {
                "payload": b"deferred".hex(),
                "headers": {"deferred": str(delay)},
                "priority": 9,
                "delay": delay,
            }
        # Dedupe under "raise": the second enqueue with a live key raises.
        (raise_id,) = await q.enqueue(entrypoint, b"dedupe-raise", 0, None, "py-raise-key", None)
        expected[raise_id] = {"payload": b"dedupe-raise".hex(), "headers": None,
                              "priority": 0, "delay": 0, "dedupe_key": "py-raise-key"}
        try:
            await q.enqueue(entrypoint, b"dup", 0, None, "py-raise-key", None)
            check(False, "a duplicate dedupe key under on_conflict=raise did not raise")
        except DuplicateJobError:
            pass
        # Dedupe under "skip": a batch with a duplicate gets None in its slot.
        skip_ids = await q.enqueue(
            [entrypoint] * 3,
            [b"dedupe-skip-1", b"dedupe-skip-dup", b"dedupe-skip-2"],
            [1, 1, 1],
            [None] * 3,
            ["py-skip-key", "py-skip-key", "py-skip-key-2"],
            [None] * 3,
            on_conflict="skip",
        )
        check(skip_ids[1] is None and None not in (skip_ids[0], skip_ids[2]),
              f"on_conflict=skip returned {skip_ids}, expected a None only in the middle")
        again = await q.enqueue(entrypoint, b"dup", 0, None, "py-skip-key", None,
                                on_conflict="skip")
        check(again == [None], f"skip of a live key returned {again}")
        for job_id, payload, key in ((skip_ids[0], b"dedupe-skip-1", "py-skip-key"),
                                     (skip_ids[2], b"dedupe-skip-2", "py-skip-key-2")):
            expected[job_id] = {"payload": payload.hex(), "headers": None, "priority": 1,
                                "delay": 0, "dedupe_key": key}
    with open(expected_path, "w", encoding="utf-8") as out:
        json.dump({str(k): v for k, v in expected.items()}, out, sort_keys=True)
    print(f"python enqueued {len(expected)} jobs with options "
          f"({n} in one batch, 2 deferred, 3 deduped; 1 raise and 2 skip duplicates refused)")


async def bulk(entrypoint: str, count: int, prefix: str) -> None:
    async with queries() as q:
        ids = await q.enqueue(
            [entrypoint] * count,
            [f"{prefix}-{i}".encode() for i in range(count)],
            [0] * count,
        )
    dump(ids)


async def one(entrypoint: str, payload: str, dedupe_key: str | None, on_conflict: str) -> None:
    async with queries() as q:
        try:
            ids = await q.enqueue(entrypoint, payload.encode(), 0, None, dedupe_key, None,
                                  on_conflict=on_conflict)
        except DuplicateJobError:
            print("duplicate", flush=True)
            return
    dump(ids[0])


def main() -> None:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("options")
    p.add_argument("entrypoint")
    p.add_argument("expected")
    p = sub.add_parser("bulk")
    p.add_argument("entrypoint")
    p.add_argument("count", type=int)
    p.add_argument("prefix", nargs="?", default="job")
    p = sub.add_parser("one")
    p.add_argument("entrypoint")
    p.add_argument("payload")
    p.add_argument("--dedupe-key")
    p.add_argument("--on-conflict", default="raise", choices=["raise", "skip"])
    args = parser.parse_args()
    if args.command == "options":
        asyncio.run(options(args.entrypoint, args.expected))
    elif args.command == "bulk":
        asyncio.run(bulk(args.entrypoint, args.count, args.prefix))
    else:
        asyncio.run(one(args.entrypoint, args.payload, args.dedupe_key, args.on_conflict))


if __name__ == "__main__":
    main()
