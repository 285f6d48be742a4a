{{/*
Checks on combinations of values that the schema cannot express; each fails with a
message naming the keys involved.
*/}}

{{/*
Checks that span several values. Included once by deployment.yaml, so any rendering of the
chart runs them.
*/}}
{{- define "pgq-worker.validateValues" -}}
{{- $mode := include "pgq-worker.credentialMode" . -}}
{{- $db := include "pgq-worker.databaseSettings" . | fromYaml -}}
{{- if eq $mode "dsn" -}}
{{- range $k := list "host" "port" "dbname" "user" -}}
{{- if not (kindIs "invalid" (index $db $k)) -}}
{{- fail (printf "config.database.%s cannot be combined with a DSN credential (database.existingSecret.dsnKey or database.secret.dsn): put it in the connection string instead" $k) -}}
{{- end -}}
{{- end -}}
{{- else if not (index $db "host") -}}
{{- fail "config.database.host is required: the DNS name of the PostgreSQL server (use the full name, e.g. postgres.db.svc.cluster.local, when KEDA must reach it too)" -}}
{{- end -}}
{{- if and .Values.autoscaling.hpa.enabled .Values.autoscaling.keda.enabled -}}
{{- fail "autoscaling.hpa.enabled and autoscaling.keda.enabled are mutually exclusive: KEDA creates its own HorizontalPodAutoscaler, and two autoscalers would fight over spec.replicas" -}}
{{- end -}}
{{- if and .Values.pdb.create (not (kindIs "invalid" (index .Values.pdb "minAvailable"))) (not (kindIs "invalid" (index .Values.pdb "maxUnavailable"))) -}}
{{- fail "pdb.minAvailable and pdb.maxUnavailable are mutually exclusive: set one and leave the other null" -}}
{{- end -}}
{{- $_ := include "pgq-worker.validatePdb" . -}}
{{- if and (not (index .Values.config "entrypoints")) (not (index .Values.config "schedules")) -}}
{{- fail "config.entrypoints (or config.schedules) must define at least one handler: a worker without handlers has nothing to run" -}}
{{- end -}}
{{- $hpa := .Values.autoscaling.hpa -}}
{{- if and $hpa.enabled (gt ($hpa.minReplicas | int) ($hpa.maxReplicas | int)) -}}
{{- fail (printf "autoscaling.hpa.minReplicas (%d) is greater than autoscaling.hpa.maxReplicas (%d)" ($hpa.minReplicas | int) ($hpa.maxReplicas | int)) -}}
{{- end -}}
{{- if and $hpa.enabled (kindIs "invalid" (index $hpa "targetCPUUtilizationPercentage")) (kindIs "invalid" (index $hpa "targetMemoryUtilizationPercentage")) (not $hpa.podsMetric.enabled) (not $hpa.queueMetric.enabled) -}}
{{- fail "autoscaling.hpa.enabled needs at least one metric: targetCPUUtilizationPercentage, targetMemoryUtilizationPercentage, podsMetric.enabled or queueMetric.enabled" -}}
{{- end -}}
{{- $keda := .Values.autoscaling.keda -}}
{{- if and $keda.enabled (gt ($keda.minReplicaCount | int) ($keda.maxReplicaCount | int)) -}}
{{- fail (printf "autoscaling.keda.minReplicaCount (%d) is greater than autoscaling.keda.maxReplicaCount (%d)" ($keda.minReplicaCount | int) ($keda.maxReplicaCount | int)) -}}
{{- end -}}
{{- if $keda.enabled -}}
{{- $_ := include "pgq-worker.validateKedaTls" . -}}
{{- $where := "config" -}}
{{- with include "pgq-worker.group" . }}{{ $where = printf "workers.%s.config" . }}{{ end -}}
{{- if not (index .Values.config "entrypoints") -}}
{{- fail (printf "autoscaling.keda needs %s.entrypoints: KEDA counts the queued and picked jobs of this worker's entrypoints, and a worker with schedules only has none (the query would count every job of the table). Give it a fixed replicaCount instead" $where) -}}
{{- end -}}
{{- if and (index .Values.config "schedules") (lt ($keda.minReplicaCount | int) 1) -}}
{{- fail (printf "%s.schedules with autoscaling.keda.minReplicaCount 0: a worker with schedules cannot scale to zero, since nothing runs the schedules then (they do not wake KEDA). Set minReplicaCount to 1, or move the schedules to a group (workers.<group>) that keeps a replica" $where) -}}
{{- end -}}
{{- end -}}
{{- $_ := include "pgq-worker.terminationGracePeriodSeconds" . -}}
{{- if or $hpa.enabled $keda.enabled -}}
{{- $_ := include "pgq-worker.validateGraceForScaleDown" . -}}
{{- end -}}
{{- if and $hpa.enabled $hpa.queueMetric.enabled (not (index .Values.config "entrypoints")) -}}
{{- fail "autoscaling.hpa.queueMetric needs config.entrypoints: the metric is selected by entrypoint" -}}
{{- end -}}
{{- end -}}

{{/*
Under an autoscaler a scale-down sends SIGTERM, and the worker then lets its jobs run for
config.shutdown.grace_period only. Refuses a handler whose timeout (or sleep duration) is longer:
such a job would be stopped mid-run by an ordinary scale-down.
*/}}
{{- define "pgq-worker.validateGraceForScaleDown" -}}
{{- $grace := include "pgq-worker.durationSeconds" .Values.config.shutdown.grace_period | int -}}
{{- $where := "config" -}}
{{- with include "pgq-worker.group" . }}{{ $where = printf "workers.%s.config" . }}{{ end -}}
{{- range $name, $ep := default dict (index .Values.config "entrypoints") -}}
{{- $h := default dict (index $ep "handler") -}}
{{- range $key := list "timeout" "duration" -}}
{{- with index $h $key -}}
{{- if gt (include "pgq-worker.durationSeconds" . | int) $grace -}}
{{- fail (printf "%s.entrypoints.%s.handler.%s (%s) is longer than %s.shutdown.grace_period (%ds): with autoscaling, a scale-down lets jobs run for the grace period only and this job would be stopped mid-run. Raise the grace period (terminationGracePeriodSeconds follows) or shorten the handler" $where $name $key (toString .) $where $grace) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/*
An integer pdb.minAvailable at or above the smallest replica count would forbid every
eviction (a node drain waits forever); "100%" likewise.
*/}}
{{- define "pgq-worker.validatePdb" -}}
{{- $min := index .Values.pdb "minAvailable" -}}
{{- if and .Values.pdb.create (not (kindIs "invalid" $min)) -}}
{{- $replicas := .Values.replicaCount | int -}}
{{- $source := "replicaCount" -}}
{{- if .Values.autoscaling.hpa.enabled -}}
{{- $replicas = .Values.autoscaling.hpa.minReplicas | int -}}
{{- $source = "autoscaling.hpa.minReplicas" -}}
{{- else if .Values.autoscaling.keda.enabled -}}
{{- $replicas = .Values.autoscaling.keda.minReplicaCount | int -}}
{{- $source = "autoscaling.keda.minReplicaCount" -}}
{{- end -}}
{{- if and (kindIs "string" $min) (eq (toString $min) "100%") -}}
{{- fail "pdb.minAvailable \"100%\" forbids every voluntary eviction: node drains would wait forever; use a lower percentage or maxUnavailable" -}}
{{- else if and (not (kindIs "string" $min)) (ge ($min | int) $replicas) -}}
{{- fail (printf "pdb.minAvailable (%d) must be below %s (%d): otherwise no pod could ever be evicted and node drains would wait forever" ($min | int) $source $replicas) -}}
{{- end -}}
{{- end -}}
{{- end -}}
