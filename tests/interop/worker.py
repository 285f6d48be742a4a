"""Python worker: a PgQueuer QueueManager that records every job it runs.

  worker.py NAME OUT.jsonl [--mode drain|continuous] [--batch N]
            [--ok EP]... [--hold EP]... [--retry EP]... [--wait EP]... [--delay-ms MS]

Entrypoint kinds:
  --ok EP     record the job (id, payload hex, headers, attempts) and succeed
  --hold EP   record, then raise; on_failure="hold" keeps the job as `failed`
  --retry EP  record, then raise; DatabaseRetryEntrypointExecutor retries it
              (max_attempts 2, 100 ms initial delay), then holds it
  --wait EP   record "started", then wait until the job's cancel scope is
              flagged (a cancellation event) and record "cancelled"
In continuous mode the worker runs until SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
from datetime import timedelta

from pgqueuer import DatabaseRetryEntrypointExecutor, Job, QueueManager
from pgqueuer.executors import EntrypointExecutorParameters
from pgqueuer.types import QueueExecutionMode

from common import Recorder, queries, stop_on_signals


def job_fields(job: Job) -> dict:
    return {
        "id": job.id,
        "entrypoint": job.entrypoint,
        "payload": None if job.payload is None else job.payload.hex(),
        "headers": job.headers,
        "attempts": job.attempts,
        "priority": job.priority,
    }


async def run(args: argparse.Namespace) -> None:
    recorder = Recorder(args.out, args.name)
    async with queries(application_name=f"interop-{args.name}") as q:
        qm = QueueManager(q)
        stop_on_signals(qm.shutdown.set)
        delay = args.delay_ms / 1000

        def ok(name: str) -> None:
            @qm.entrypoint(name)
            async def handler(job: Job) -> None:
                if delay:
                    await asyncio.sleep(delay)
                recorder.write(event="ran", **job_fields(job))

        def failing(name: str, retry: bool) -> None:
            factory = None
            if retry:
                def factory(params: EntrypointExecutorParameters):
                    return DatabaseRetryEntrypointExecutor(
                        params, max_attempts=2, initial_delay=timedelta(milliseconds=100)
                    )

            @qm.entrypoint(name, on_failure="hold", executor_factory=factory)
            async def handler(job: Job) -> None:
                recorder.write(event="failing", **job_fields(job))
                raise ValueError(f"interop failure of job {job.id}")

        def waiting(name: str) -> None:
            @qm.entrypoint(name, accepts_context=True)
            async def handler(job: Job, context) -> None:
                recorder.write(event="started", **job_fields(job))
                for _ in range(600):
                    if context.cancellation.cancel_called:
                        recorder.write(event="cancelled", **job_fields(job))
                        return
                    await asyncio.sleep(0.1)
                recorder.write(event="not-cancelled", **job_fields(job))

        for name in args.ok:
            ok(name)
        for name in args.hold:
            failing(name, retry=False)
        for name in args.retry:
            failing(name, retry=True)
        for name in args.wait:
            waiting(name)
        print(f"{args.name}: running", flush=True)
        await qm.run(
            dequeue_timeout=timedelta(seconds=1),
            batch_size=args.batch,
            mode=QueueExecutionMode[args.mode],
        )
    print(f"{args.name}: stopped", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("name")
    parser.add_argument("out")
    parser.add_argument("--mode", default="continuous", choices=["continuous", "drain"])
    parser.add_argument("--batch", type=int, default=10)
    parser.add_argument("--delay-ms", type=int, default=0)
    for kind in ("ok", "hold", "retry", "wait"):
        parser.add_argument(f"--{kind}", action="append", default=[])
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
