"""Python scheduler: a PgQueuer SchedulerManager whose schedules record each run.

  scheduler.py NAME OUT.jsonl NAME=CRON...
Runs until SIGTERM.
"""

from __future__ import annotations

import asyncio
import sys

from pgqueuer import SchedulerManager
from pgqueuer.models import Schedule

from common import Recorder, queries, stop_on_signals


async def main(name: str, out: str, schedules: list[str]) -> None:
    recorder = Recorder(out, name)
    async with queries(application_name=f"interop-{name}") as q:
        sm = SchedulerManager(q)
        stop_on_signals(sm.shutdown.set)
        for spec in schedules:
            entrypoint, cron = spec.split("=", 1)

            @sm.schedule(entrypoint, cron)
            async def run(schedule: Schedule) -> None:
                recorder.write(event="scheduled", entrypoint=schedule.entrypoint,
                               expression=schedule.expression, next_run=str(schedule.next_run))

        print(f"{name}: running", flush=True)
        await sm.run()
    print(f"{name}: stopped", flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3:]))
