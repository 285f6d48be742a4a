{{/*
KEDA autoscaling: the connection (TLS, connection string), the queue table and the
postgresql trigger's query, and the capacity one worker brings.
*/}}

{{/*
KEDA over TLS. The scaler connects from the KEDA operator's pod and reads TLS files there,
not from this release's mounts; its trigger metadata has no keys for them. The chart gives
KEDA the workers' own credential key (no second copy of the password); the KEDA operator
trusts a private CA through libpq's environment in its own pod (PGSSLROOTCERT, and
PGSSLCERT/PGSSLKEY for a client certificate), which autoscaling.keda.tls.caFile/certFile/
keyFile name: docs/configuration.md, "TLS for KEDA". Refused when the workers verify
the server against a CA of their own (database.tls.ca, sslmode verify-ca/verify-full) and
autoscaling.keda.tls says nothing about how KEDA does.
pgq-worker.kedaConnectionKey: a key of database.existingSecret holding KEDA's whole
connection string (autoscaling.keda.tls.connectionKey, the reader's explicit choice), or "".
*/}}
{{- define "pgq-worker.kedaConnectionKey" -}}
{{- $t := .Values.autoscaling.keda.tls -}}
{{- if ne (empty $t.certFile) (empty $t.keyFile) -}}
{{- fail "autoscaling.keda.tls.certFile and keyFile come as a pair" -}}
{{- end -}}
{{- if $t.connectionKey -}}
{{- if ne (include "pgq-worker.secretSource" .) "existing" -}}
{{- fail "autoscaling.keda.tls.connectionKey names a key of database.existingSecret: with a chart-made Secret, KEDA reads the workers' password key and the KEDA operator's PGSSLROOTCERT (autoscaling.keda.tls.caFile)" -}}
{{- end -}}
{{- $t.connectionKey -}}
{{- end -}}
{{- end -}}

{{/* Refuses a KEDA setup that cannot connect: a private CA the KEDA operator was not told about. */}}
{{- define "pgq-worker.validateKedaTls" -}}
{{- $db := include "pgq-worker.databaseSettings" . | fromYaml -}}
{{- $t := .Values.autoscaling.keda.tls -}}
{{- $ca := or .Values.database.tls.ca.configMap .Values.database.tls.ca.secret -}}
{{- $verify := has (default "prefer" (index $db "sslmode")) (list "verify-ca" "verify-full") -}}
{{- if and $verify $ca (not $t.caFile) (not $t.connectionKey) -}}
{{- fail (printf "autoscaling.keda with sslmode %s and a private CA (database.tls.ca): KEDA connects from the KEDA operator's pod, which does not trust that CA and would fail every poll. Mount the CA into the KEDA operator, set PGSSLROOTCERT there, and name the path in autoscaling.keda.tls.caFile (docs/configuration.md, \"TLS for KEDA\"), or give KEDA a connection string of its own with autoscaling.keda.tls.connectionKey" (index $db "sslmode")) -}}
{{- end -}}
{{- if and .Values.database.tls.clientCert.secret (not $t.certFile) (not $t.connectionKey) -}}
{{- fail "autoscaling.keda with a client certificate (database.tls.clientCert): the KEDA operator needs one too: set PGSSLCERT and PGSSLKEY in its pod and name them in autoscaling.keda.tls.certFile/keyFile (docs/configuration.md, \"TLS for KEDA\")" -}}
{{- end -}}
{{- end -}}

{{/* Queue table as KEDA must name it: [schema.]<prefix>pgqueuer. */}}
{{- define "pgq-worker.queueTable" -}}
{{- $q := .Values.config.queue -}}
{{- $table := printf "%spgqueuer" (default "" (index $q "prefix")) -}}
{{- $schema := default "" (index $q "schema") -}}
{{- if $schema -}}
{{- printf "%s.%s" $schema $table -}}
{{- else -}}
{{- $table -}}
{{- end -}}
{{- end -}}

{{/*
Jobs that need a worker, for KEDA and the HPA: ready queued jobs (execute_after reached) plus
every picked job, running or stranded by a dead worker whose heartbeat went stale, so a busy
fleet is not scaled down under its running jobs and a stranded job wakes a fleet at zero.
Only the group's entrypoints (config.entrypoints) unless autoscaling.keda.filterEntrypoints is
false. Each half reads a partial index (queued: <prefix>pgqueuer_ep_ea_idx; picked:
<prefix>pgqueuer_updated_id_id1_idx); tests/scripts/deploy_keda.sh checks the count and the plan.
*/}}
{{- define "pgq-worker.kedaQuery" -}}
{{- $keda := .Values.autoscaling.keda -}}
{{- if $keda.query -}}
{{- $keda.query -}}
{{- else -}}
{{- $table := include "pgq-worker.queueTable" . -}}
{{- $only := "" -}}
{{- $entrypoints := index .Values.config "entrypoints" -}}
{{- if and $keda.filterEntrypoints $entrypoints -}}
{{- $names := list -}}
{{- range $name, $_ := $entrypoints -}}
{{- $names = append $names (printf "'%s'" (replace "'" "''" $name)) -}}
{{- end -}}
{{- $only = printf " AND entrypoint IN (%s)" (join ", " $names) -}}
{{- end -}}
{{- printf "SELECT (SELECT count(*) FROM %s WHERE status = 'queued' AND execute_after <= now()%s) + (SELECT count(*) FROM %s WHERE status = 'picked'%s)" $table $only $table $only -}}
{{- end -}}
{{- end -}}

{{/*
Jobs one worker holds at once, the autoscalers' per-replica target: autoscaling.capacityPerReplica
when set, else what the runtime takes: handler threads (queue.max_concurrent_tasks, or
2 * batch_size when that is 0) plus one claimed batch waiting for a thread.
*/}}
{{- define "pgq-worker.capacity" -}}
{{- $set := index .Values.autoscaling "capacityPerReplica" -}}
{{- if not (kindIs "invalid" $set) -}}
{{- $set | int -}}
{{- else -}}
{{- $q := .Values.config.queue -}}
{{- $batch := $q.batch_size | int -}}
{{- $threads := $q.max_concurrent_tasks | int -}}
{{- if le $threads 0 }}{{ $threads = mul 2 $batch }}{{ end -}}
{{- add $threads $batch -}}
{{- end -}}
{{- end -}}
