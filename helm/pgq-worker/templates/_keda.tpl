{{/*
KEDA autoscaling: the connection (TLS, connection string), the queue table and the
postgresql trigger's query, and the capacity one worker brings.
*/}}

{{/*
KEDA over TLS. The scaler runs in the KEDA operator's pod and reads sslrootcert, sslcert and
sslkey there (autoscaling.keda.tls.*); its trigger metadata has no keys for them, so with any
set the TriggerAuthentication passes a whole connection string as "connection".
pgq-worker.kedaConnectionKey: the credentials Secret's key holding that string ("" when KEDA
uses the password and the trigger's host/port/... metadata).
pgq-worker.kedaConnection: the string itself, for the chart-made Secret (password mode).
*/}}
{{- define "pgq-worker.kedaTls" -}}
{{- $t := .Values.autoscaling.keda.tls -}}
{{- if or $t.caFile $t.certFile $t.keyFile }}true{{ end -}}
{{- end -}}

{{- define "pgq-worker.kedaConnectionKey" -}}
{{- $t := .Values.autoscaling.keda.tls -}}
{{- if include "pgq-worker.kedaTls" . -}}
{{- if ne (empty $t.certFile) (empty $t.keyFile) -}}
{{- fail "autoscaling.keda.tls.certFile and keyFile come as a pair" -}}
{{- end -}}
{{- if eq (include "pgq-worker.secretSource" .) "existing" -}}
{{- required "autoscaling.keda.tls with database.existingSecret: set autoscaling.keda.tls.connectionKey, the key of that Secret holding KEDA's whole connection string (with sslrootcert etc. as the KEDA operator sees them)" $t.connectionKey -}}
{{- else if eq (include "pgq-worker.credentialMode" .) "dsn" -}}
{{- fail "autoscaling.keda.tls needs database.secret.password (the chart then builds KEDA's connection string); with a whole DSN, use database.existingSecret with autoscaling.keda.tls.connectionKey" -}}
{{- else -}}
keda-connection
{{- end -}}
{{- end -}}
{{- end -}}

{{/* A libpq connection string value, quoted. */}}
{{- define "pgq-worker.conninfoValue" -}}
'{{ . | toString | replace "\\" "\\\\" | replace "'" "\\'" }}'
{{- end -}}

{{- define "pgq-worker.kedaConnection" -}}
{{- $db := include "pgq-worker.databaseSettings" . | fromYaml -}}
{{- $t := .Values.autoscaling.keda.tls -}}
{{- $pairs := list
  (list "host" (index $db "host"))
  (list "port" (default 5432 (index $db "port")))
  (list "user" (default "postgres" (index $db "user")))
  (list "dbname" (default "postgres" (index $db "dbname")))
  (list "sslmode" (default "prefer" (index $db "sslmode")))
  (list "sslrootcert" $t.caFile)
  (list "sslcert" $t.certFile)
  (list "sslkey" $t.keyFile)
  (list "password" .Values.database.secret.password) -}}
{{- $out := list -}}
{{- range $pairs -}}
{{- if index . 1 -}}
{{- $out = append $out (printf "%s=%s" (index . 0) (include "pgq-worker.conninfoValue" (index . 1))) -}}
{{- end -}}
{{- end -}}
{{- join " " $out -}}
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
