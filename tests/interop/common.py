"""Shared helpers for the interop programs (run inside the trixie chroot).

Only PgQueuer's public API is used: Queries, QueueManager, SchedulerManager,
the models they return, and its errors. Object names come from PgQueuer's own
settings (PGQUEUER_PREFIX / PGQUEUER_SCHEMA in the environment); the DSN from
PGQUEUER_DSN.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
from typing import AsyncIterator

import asyncpg

from pgqueuer import Queries


def fail(message: str) -> None:
    print(f"FAIL: {message}", file=sys.stderr, flush=True)
    sys.exit(1)


def check(condition: bool, message: str) -> None:
    if not condition:
        fail(message)


@contextlib.asynccontextmanager
async def queries(application_name: str = "interop-py") -> AsyncIterator[Queries]:
    connection = await asyncpg.connect(
        os.environ["PGQUEUER_DSN"],
        server_settings={"application_name": application_name},
    )
    try:
        yield Queries.from_asyncpg_connection(connection)
    finally:
        await connection.close()


def stop_on_signals(stop) -> None:
    """Call `stop()` on SIGTERM or SIGINT (the driver script ends workers so)."""
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop)


class Recorder:
    """Appends one JSON line per event to a file the driver script reads."""

    def __init__(self, path: str, worker: str) -> None:
        self.path = path
        self.worker = worker

    def write(self, **fields) -> None:
        fields["worker"] = self.worker
        with open(self.path, "a", encoding="utf-8") as out:
            out.write(json.dumps(fields, sort_keys=True) + "\n")


def dump(value) -> None:
    """Prints one JSON document on stdout for the driver script."""
    print(json.dumps(value, sort_keys=True, default=str), flush=True)
