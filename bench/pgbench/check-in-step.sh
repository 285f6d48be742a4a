#!/usr/bin/env bash
# Fails when bench/pgbench/claim_complete.sql no longer runs pgq's own claim and completion
# statements: compares it, whitespace-insensitively and with the parameters filled in as the
# script documents, with `pgq sql statements` (default names).
#   check-in-step.sh PATH/TO/pgq
set -euo pipefail

pgq=${1:?usage: check-in-step.sh PATH/TO/pgq}
script=$(dirname "${BASH_SOURCE[0]}")/claim_complete.sql

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

status=0
for part in claim complete; do
  want_var=want_$part have_var=have_$part
  if [[ -z ${!want_var} || ${!want_var} != "${!have_var}" ]]; then
    echo "check-in-step: the $part statement of $script differs from \`pgq sql statements\`:" >&2
    diff <(fold -w 100 <<<"${!want_var}") <(fold -w 100 <<<"${!have_var}") >&2 || true
    status=1
  fi
done
[[ $status -eq 0 ]] && echo "check-in-step: $script runs pgq's claim and completion statements"
exit "$status"
