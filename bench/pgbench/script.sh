#!/usr/bin/env bash
# Prints a pgbench script that runs pgq's own statements, taken from `pgq sql statements`
# (the files in src/queries/sql/, rendered for the default names pgqueuer / pgqueuer_log /
# pgqueuer_status), with their parameters turned into pgbench variables:
#
#   script.sh PGQ claim_complete BATCH
#       one transaction = the claim of BATCH jobs ("claim": the form a worker runs when no
#       entrypoint has a concurrency limit and max_concurrent_tasks is unset), then the
#       completion of exactly those jobs ("complete"), both autocommit as the worker runs
#       them. The worker writes the batch size, the entrypoints and the heartbeat timeout in
#       as literals: here {batch} -> BATCH, {entrypoints} -> '{bench}', {heartbeat_timeout}
#       -> '30.000000 seconds' (the default, as the worker writes it); $1, the worker id, is
#       a uuid made from pgbench's :client_id. Only the claim's final SELECT is wrapped: it
#       returns one row for \gset (the id, status and traceback arrays the worker would bind
#       next) and still renders every returned column as text (octet_length(c::text)), the
#       work the server does to send those rows. Pre-fill the queue with fill.sql.
#   script.sh PGQ enqueue | enqueue_raise
#       one transaction = one enqueue ("enqueue": ON CONFLICT DO NOTHING, as BatchingProducer
#       flushes; "enqueue_raise": as ProducerQueries::Enqueue(job) runs per call); the six
#       arrays are the pgbench variables :priorities :entrypoints :payloads :delays :keys
#       :headers (pass them with -D).
#
# Run the scripts with -M prepared: the remaining variables become bound parameters.
set -euo pipefail

pgq=${1:?usage: script.sh PGQ claim_complete BATCH | enqueue | enqueue_raise}
kind=${2:?usage: script.sh PGQ claim_complete BATCH | enqueue | enqueue_raise}

# statement NAME: one statement of `pgq sql statements`, as printed (ends with ';').
statement() {
  local text
  text=$(env -u PGQUEUER_PREFIX -u PGQUEUER_SCHEMA "$pgq" sql statements |
    awk -v name="-- $1" '$0 == name {on = 1; next} /^-- / {on = 0} on {print}')
  if [[ -z $text ]]; then
    echo "script.sh: \`pgq sql statements\` has no statement \"$1\"" >&2
    return 1
  fi
  printf '%s\n' "$text"
}

case $kind in
  claim_complete)
    batch=${3:?usage: script.sh PGQ claim_complete BATCH}
    [[ $batch =~ ^[1-9][0-9]*$ ]] || { echo "script.sh: BATCH must be a positive number" >&2; exit 2; }
    claim=$(statement claim)
    complete=$(statement complete)
    # The claim up to its final SELECT, with the per-claim literals written in.
    head_part=$(sed '/^SELECT claimed\.id/,$d' <<<"$claim" |
      sed -e "s/{batch}::bigint/${batch}::bigint/g" -e "s/{entrypoints}::text\\[\\]/'{bench}'::text[]/g" \
        -e "s/\\\$1::uuid/lpad(to_hex(:client_id::int), 32, '0')::uuid/g" \
        -e "s/{heartbeat_timeout}::interval/'30.000000 seconds'::interval/g")
    # Its final SELECT, less the ORDER BY (the aggregates order the ids themselves).
    final=$(sed -n '/^SELECT claimed\.id/,$p' <<<"$claim" | sed -e '/^ORDER BY /d' -e 's/;$//')
    if [[ -z $head_part || -z $final ]] ||
      grep -qE '\{(batch|entrypoints|heartbeat_timeout)\}|\$[0-9]' <<<"$head_part$final"; then
      echo "script.sh: the claim statement no longer has the shape this script expects" >&2
      exit 1
    fi
    printf '%s\n' "$head_part"
    printf '%s\n' "SELECT COALESCE(array_agg(c.id ORDER BY c.priority DESC, c.id ASC), '{}') AS ids,"
    printf '%s\n' "       COALESCE(array_agg('successful'::text), '{}') AS statuses,"
    printf '%s\n' "       COALESCE(array_agg(NULL::jsonb), '{}') AS tracebacks,"
    printf '%s\n' "       COALESCE(sum(octet_length(c::text)), 0) AS bytes"
    printf '%s\n' "FROM ("
    printf '%s\n' "$final"
    printf '%s\n' ") AS c"
    printf '%s\n' '\gset'
    printf '\n'
    sed -e 's/\$1::bigint\[\]/:ids::bigint[]/' -e 's/\$2::text\[\]/:statuses::text[]/' \
      -e 's/\$3::jsonb\[\]/:tracebacks::jsonb[]/' <<<"$complete"
    ;;
  enqueue | enqueue_raise)
    statement "$kind" |
      sed -e 's/\$1::int4\[\]/:priorities::int4[]/' -e 's/\$2::text\[\]/:entrypoints::text[]/' \
        -e 's/\$3::bytea\[\]/:payloads::bytea[]/' -e 's/\$4::interval\[\]/:delays::interval[]/' \
        -e 's/\$5::text\[\]/:keys::text[]/' -e 's/\$6::jsonb\[\]/:headers::jsonb[]/'
    ;;
  *)
    echo "script.sh: unknown script \"$kind\" (claim_complete, enqueue, enqueue_raise)" >&2
    exit 2
    ;;
esac
