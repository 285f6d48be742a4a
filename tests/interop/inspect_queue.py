"""Reads and acts on the shared tables through PgQueuer's Queries; every row
comes back as a validated pydantic model (Job, Log, LogStatistics, Schedule),
so a row pgq wrote in a shape PgQueuer rejects fails here.

  inspect_queue.py failed                  held jobs: [{id, entrypoint, attempts, payload}]
  inspect_queue.py requeue ID...           put held jobs back (resets attempts)
  inspect_queue.py log ID...               log rows of these jobs, traceback included
  inspect_queue.py cancel ID...            mark_job_as_cancelled (log + cancellation event)
  inspect_queue.py stats ENTRYPOINT        log_statistics() summed by status
  inspect_queue.py aggregate               aggregate_logs() (advisory-locked)
  inspect_queue.py schedules               peek_schedule()
  inspect_queue.py verify                  QueueManager.verify_structure()
  inspect_queue.py size                    queue_size() summed by status
"""

from __future__ import annotations

import asyncio
import sys
from collections import Counter

from pgqueuer import QueueManager

from common import dump, queries


async def main(command: str, args: list[str]) -> None:
    async with queries() as q:
        if command == "failed":
            jobs = await q.list_failed_jobs(limit=10000)
            dump([{"id": j.id, "entrypoint": j.entrypoint, "attempts": j.attempts,
                   "status": j.status, "owner": j.queue_manager_id,
                   "payload": None if j.payload is None else j.payload.hex()} for j in jobs])
        elif command == "requeue":
            await q.requeue_jobs([int(x) for x in args])
            dump(len(args))
        elif command == "log":
            wanted = {int(x) for x in args}
            rows = [r for r in await q.queue_log() if r.job_id in wanted]
            dump([{"job_id": r.job_id, "status": r.status, "created": r.created,
                   "traceback": None if r.traceback is None else r.traceback.model_dump(mode="json")}
                  for r in sorted(rows, key=lambda r: (r.job_id, r.created))])
        elif command == "cancel":
            await q.mark_job_as_cancelled([int(x) for x in args])
            dump(len(args))
        elif command == "stats":
            totals: Counter[str] = Counter()
            for row in await q.log_statistics(limit=100000):
                if row.entrypoint == args[0]:
                    totals[row.status] += row.count
            dump(dict(totals))
        elif command == "aggregate":
            await q.aggregate_logs()
            dump("aggregated")
        elif command == "schedules":
            dump([{"entrypoint": s.entrypoint, "expression": s.expression, "status": s.status,
                   "last_run": s.last_run, "next_run": s.next_run}
                  for s in await q.peek_schedule()])
        elif command == "verify":
            await QueueManager(q).verify_structure()
            dump("verified")
        elif command == "size":
            totals = Counter()
            for row in await q.queue_size():
                totals[row.status] += row.count
            dump(dict(totals))
        else:
            sys.exit(f"unknown command {command}")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2:]))
