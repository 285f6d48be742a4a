#!/usr/bin/env bash
# Fails when bench/pgbench/claim_complete.sql no longer runs pgq's own claim and completion
# statements, or bench/pgbench/enqueue.sql its enqueue statement: compares them,
# whitespace-insensitively and with the parameters filled in as the scripts document, with
# `pgq sql statements` (default names). Also checks that deleting the ON CONFLICT line, as
# ci/bench does for its single-row runs, gives the kRaise variant.
#   check-in-step.sh PATH/TO/pgq
set -euo pipefail

pgq=${1:?usage: check-in-step.sh PATH/TO/pgq}
script=$(dirname "${BASH_SOURCE[0]}")/claim_complete.sql
enqueue_script=$(dirname "${BASH_SOURCE[0]}")/enqueue.sql

# statement NAME: one statement of `pgq sql statements`, without its trailing ';'.
statement() {
  env -u PGQUEUER_PREFIX -u PGQUEUER_SCHEMA "$pgq" sql statements |
    awk -v name="-- $1" '$0 == name {on = 1; next} /^-- / {on = 0} on {print}' |
    sed -e 's/;$//'
}
flatten() { tr -s ' \n\t' '   ' | sed -e 's/^ //; s/ $//; s/( /(/g; s/ )/)/g'; }

# The claim up to its final SELECT (which the script replaces by one row for \gset).
want_claim=$(statement claim | sed '/^SELECT claimed\.id/,$d' |
  sed -e 's/{batch}::bigint/:batch::bigint/g' -e "s/{entrypoints}::text\\[\\]/'{bench}'::text[]/g" \
    -e "s/\\\$1::uuid/lpad(to_hex(:client_id::int), 32, '0')::uuid/g" \
    -e "s/{heartbeat_timeout}::interval/'30.000000 seconds'::interval/g" | flatten)
have_claim=$(sed -n '/^WITH available AS (/,/^SELECT COALESCE(array_agg/p' "$script" |
  sed '$d' | flatten)

want_complete=$(statement complete | sed -e 's/\$1::bigint\[\]/:ids::bigint[]/' \
  -e 's/\$2::text\[\]/:statuses::text[]/' -e 's/\$3::jsonb\[\]/:tracebacks::jsonb[]/' | flatten)
have_complete=$(sed -n '/^WITH job_status AS (/,$p' "$script" | sed -e 's/;$//' | flatten)

# The enqueue statement: the script binds its six arrays as pgbench variables.
enqueue_vars() {
  sed -e 's/\$1::int4\[\]/:priorities::int4[]/' -e 's/\$2::text\[\]/:entrypoints::text[]/' \
    -e 's/\$3::bytea\[\]/:payloads::bytea[]/' -e 's/\$4::interval\[\]/:delays::interval[]/' \
    -e 's/\$5::text\[\]/:keys::text[]/' -e 's/\$6::jsonb\[\]/:headers::jsonb[]/'
}
without_on_conflict() { sed '/^    ON CONFLICT (dedupe_key)/d'; }
want_enqueue=$(statement enqueue | enqueue_vars | flatten)
have_enqueue=$(sed -n '/^WITH input AS MATERIALIZED (/,$p' "$enqueue_script" | sed -e 's/;$//' | flatten)
want_enqueue_raise=$(statement enqueue_raise | enqueue_vars | flatten)
have_enqueue_raise=$(sed -n '/^WITH input AS MATERIALIZED (/,$p' "$enqueue_script" |
  without_on_conflict | sed -e 's/;$//' | flatten)

status=0
for part in claim complete enqueue enqueue_raise; do
  want_var=want_$part have_var=have_$part
  file=$script
  [[ $part == enqueue* ]] && file=$enqueue_script
  if [[ -z ${!want_var} || ${!want_var} != "${!have_var}" ]]; then
    echo "check-in-step: the $part statement of $file differs from \`pgq sql statements\`:" >&2
    diff <(fold -w 100 <<<"${!want_var}") <(fold -w 100 <<<"${!have_var}") >&2 || true
    status=1
  fi
done
[[ $status -eq 0 ]] &&
  echo "check-in-step: $script and $enqueue_script run pgq's claim, completion and enqueue statements"
exit "$status"
