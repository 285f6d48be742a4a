{{/*
Names, labels and the pieces shared by several templates.
*/}}

{{/* Chart name, or nameOverride. */}}
{{- define "pgq-worker.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
Fully qualified name: fullnameOverride, else "<release>-<name>" (or just the release name when
it already contains the chart name). Cut to 63 characters, the limit for DNS labels.
*/}}
{{- define "pgq-worker.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/*
Name of one worker group's objects (Deployment, ConfigMap, PDB, autoscaler): the fullname,
plus "-<group>" when the values define workers groups. Shared objects (Secret, Service,
ServiceAccount, ServiceMonitor, rules, dashboard) keep the fullname.
*/}}
{{- define "pgq-worker.groupFullname" -}}
{{- $group := include "pgq-worker.group" . -}}
{{- if $group -}}
{{- printf "%s-%s" (include "pgq-worker.fullname" .) $group | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- include "pgq-worker.fullname" . -}}
{{- end -}}
{{- end -}}

{{/* The worker group of a group context ("" for the release itself). */}}
{{- define "pgq-worker.group" -}}
{{- default "" (index . "Group") -}}
{{- end -}}

{{/*
Names of the worker groups, comma-separated and sorted; "" (one unnamed group: the top-level
values) without workers. Templates of per-group objects range over it:
  range $g := include "pgq-worker.groupNames" . | splitList ","
*/}}
{{- define "pgq-worker.groupNames" -}}
{{- $workers := default dict (index .Values "workers") -}}
{{- if $workers -}}
{{- if or (index .Values.config "entrypoints") (index .Values.config "schedules") -}}
{{- fail "config.entrypoints and config.schedules must stay empty when workers is set: each group names its own (workers.<group>.config.entrypoints)" -}}
{{- end -}}
{{- keys $workers | sortAlpha | join "," -}}
{{- end -}}
{{- end -}}

{{/*
Values of one worker group, as YAML: the top-level values with workers.<group> merged over
them (maps merge key by key; anything else, false and 0 included, replaces), except that the
group's config.entrypoints and config.schedules replace the top-level ones outright.
Usage: include "pgq-worker.groupValues" (dict "root" $ "group" "fast") | fromYaml
*/}}
{{- define "pgq-worker.groupValues" -}}
{{- $values := .root.Values -}}
{{- $over := default dict (index $values.workers .group) -}}
{{- $config := default dict (index $over "config") -}}
{{- $merged := include "pgq-worker.merge" (dict "base" (omit $values "workers") "over" (omit $over "config")) | fromYaml -}}
{{- $mergedConfig := include "pgq-worker.merge" (dict "base" $values.config "over" (omit $config "entrypoints" "schedules")) | fromYaml -}}
{{- $_ := set $mergedConfig "entrypoints" (default dict (index $config "entrypoints")) -}}
{{- $_ := set $mergedConfig "schedules" (default dict (index $config "schedules")) -}}
{{- $_ := set $merged "config" $mergedConfig -}}
{{- toYaml $merged -}}
{{- end -}}

{{/* Deep merge of two maps, as YAML: .over wins; maps merge recursively. */}}
{{- define "pgq-worker.merge" -}}
{{- $out := dict -}}
{{- range $k, $v := .base -}}
{{- $_ := set $out $k $v -}}
{{- end -}}
{{- range $k, $v := .over -}}
{{- $b := index $out $k -}}
{{- if and (kindIs "map" $v) (kindIs "map" $b) -}}
{{- $_ := set $out $k (include "pgq-worker.merge" (dict "base" $b "over" $v) | fromYaml) -}}
{{- else -}}
{{- $_ := set $out $k $v -}}
{{- end -}}
{{- end -}}
{{- toYaml $out -}}
{{- end -}}

{{/* "name-version" for the helm.sh/chart label. */}}
{{- define "pgq-worker.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Namespace of every object. */}}
{{- define "pgq-worker.namespace" -}}
{{- default .Release.Namespace .Values.namespaceOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels of every object. */}}
{{- define "pgq-worker.labels" -}}
helm.sh/chart: {{ include "pgq-worker.chart" . }}
{{ include "pgq-worker.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | trunc 63 | trimSuffix "-" | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: pgq
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/*
Selector labels: name, instance and component only. Never user labels: a selector cannot
change after the Deployment exists.
*/}}
{{- define "pgq-worker.selectorLabels" -}}
app.kubernetes.io/name: {{ include "pgq-worker.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: worker
{{- with include "pgq-worker.group" . }}
pgq/worker-group: {{ . }}
{{- end }}
{{- end -}}

{{/* metadata.annotations lines shared by every object (commonAnnotations). */}}
{{- define "pgq-worker.annotations" -}}
{{- with .Values.commonAnnotations }}
{{- toYaml . }}
{{- end }}
{{- end -}}

{{/* ServiceAccount the pods run as. */}}
{{- define "pgq-worker.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "pgq-worker.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* Worker image reference: registry/repository, then @digest or :tag (appVersion by default). */}}
{{- define "pgq-worker.image" -}}
{{- $img := .Values.image -}}
{{- $repo := $img.repository -}}
{{- if $img.registry }}{{ $repo = printf "%s/%s" $img.registry $img.repository }}{{ end -}}
{{- if $img.digest -}}
{{- printf "%s@%s" $repo $img.digest -}}
{{- else -}}
{{- printf "%s:%s" $repo ($img.tag | default .Chart.AppVersion | toString) -}}
{{- end -}}
{{- end -}}

{{/* Image of the helm test pod. */}}
{{- define "pgq-worker.testImage" -}}
{{- $img := .Values.tests.image -}}
{{- $repo := $img.repository -}}
{{- if $img.registry }}{{ $repo = printf "%s/%s" $img.registry $img.repository }}{{ end -}}
{{- if $img.digest -}}
{{- printf "%s@%s" $repo $img.digest -}}
{{- else -}}
{{- printf "%s:%s" $repo ($img.tag | toString) -}}
{{- end -}}
{{- end -}}

{{/*
Render a value that may hold template expressions (e.g. "{{ .Release.Name }}"), as YAML.
Usage: include "pgq-worker.tplvalues" (dict "value" .Values.x "context" $)
*/}}
{{- define "pgq-worker.tplvalues" -}}
{{- if typeIs "string" .value -}}
{{- tpl .value .context -}}
{{- else -}}
{{- tpl (toYaml .value) .context -}}
{{- end -}}
{{- end -}}

{{/*
Seconds in a worker duration ("500ms", "30s", "5m", "1h"; milliseconds round up).
Usage: include "pgq-worker.durationSeconds" "30s" | int
*/}}
{{- define "pgq-worker.durationSeconds" -}}
{{- $d := toString . -}}
{{- if regexMatch "^[0-9]+ms$" $d -}}
{{- div (add (trimSuffix "ms" $d | int) 999) 1000 -}}
{{- else if regexMatch "^[0-9]+s$" $d -}}
{{- trimSuffix "s" $d | int -}}
{{- else if regexMatch "^[0-9]+m$" $d -}}
{{- mul (trimSuffix "m" $d | int) 60 -}}
{{- else if regexMatch "^[0-9]+h$" $d -}}
{{- mul (trimSuffix "h" $d | int) 3600 -}}
{{- else -}}
{{- fail (printf "cannot read the duration %q: expected a number and a unit, e.g. 500ms, 30s, 5m or 1h" $d) -}}
{{- end -}}
{{- end -}}

{{/*
terminationGracePeriodSeconds: config.shutdown.grace_period + 15s unless set. A value that does
not leave the worker at least 5s after its grace period is refused: Kubernetes would SIGKILL
jobs that are still finishing.
*/}}
{{- define "pgq-worker.terminationGracePeriodSeconds" -}}
{{- $grace := include "pgq-worker.durationSeconds" .Values.config.shutdown.grace_period | int -}}
{{- $set := index .Values "terminationGracePeriodSeconds" -}}
{{- if kindIs "invalid" $set -}}
{{- add $grace 15 -}}
{{- else -}}
{{- $t := $set | int -}}
{{- if lt $t (add $grace 5 | int) -}}
{{- fail (printf "terminationGracePeriodSeconds (%d) must be at least config.shutdown.grace_period (%s = %ds) + 5s: after SIGTERM the worker lets in-flight jobs run for the grace period, and Kubernetes must not kill it before they finish. Raise it to %d or more, or leave it unset (grace_period + 15s)" $t (toString .Values.config.shutdown.grace_period) $grace (add $grace 5)) -}}
{{- end -}}
{{- $t -}}
{{- end -}}
{{- end -}}

{{/*
Where the database credentials come from: "existing" (database.existingSecret.name) or
"chart" (database.secret.create). Refuses both and neither.
*/}}
{{- define "pgq-worker.secretSource" -}}
{{- $existing := .Values.database.existingSecret.name -}}
{{- $create := .Values.database.secret.create -}}
{{- if and $existing $create -}}
{{- fail "database.existingSecret.name and database.secret.create are mutually exclusive: either point the chart at your own Secret (database.existingSecret.name) or let it create one (database.secret.create), not both" -}}
{{- else if $existing -}}
existing
{{- else if $create -}}
chart
{{- else -}}
{{- fail "database credentials are required: set database.existingSecret.name (a Secret you manage) or database.secret.create=true with database.secret.password or database.secret.dsn" -}}
{{- end -}}
{{- end -}}

{{/* Name of the Secret holding the credentials. */}}
{{- define "pgq-worker.secretName" -}}
{{- if eq (include "pgq-worker.secretSource" .) "existing" -}}
{{- tpl .Values.database.existingSecret.name . -}}
{{- else -}}
{{- include "pgq-worker.fullname" . -}}
{{- end -}}
{{- end -}}

{{/* Credential kind: "dsn" (a whole connection string) or "password". */}}
{{- define "pgq-worker.credentialMode" -}}
{{- if eq (include "pgq-worker.secretSource" .) "existing" -}}
{{- if .Values.database.existingSecret.dsnKey }}dsn{{ else }}password{{ end -}}
{{- else -}}
{{- $s := .Values.database.secret -}}
{{- if and $s.password $s.dsn -}}
{{- fail "database.secret.password and database.secret.dsn are mutually exclusive: give a password (and the connection settings in config.database) or a whole DSN" -}}
{{- else if $s.dsn -}}
dsn
{{- else if $s.password -}}
password
{{- else -}}
{{- fail "database.secret.create is true but neither database.secret.password nor database.secret.dsn is set" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* Key inside the Secret that holds the credential. */}}
{{- define "pgq-worker.secretKey" -}}
{{- $mode := include "pgq-worker.credentialMode" . -}}
{{- if eq (include "pgq-worker.secretSource" .) "existing" -}}
{{- if eq $mode "dsn" }}{{ .Values.database.existingSecret.dsnKey }}{{ else }}{{ .Values.database.existingSecret.passwordKey }}{{ end -}}
{{- else -}}
{{- $mode -}}
{{- end -}}
{{- end -}}

{{/* Directory where the credential file is mounted, and its file name inside. */}}
{{- define "pgq-worker.secretDir" -}}/etc/pgq/secrets{{- end -}}

{{/*
TLS files from database.tls, mounted as directories (not subPath) under /etc/pgq/tls so a
rotated CA or certificate reaches the worker, which reads them on every new connection:
  ca/ca.crt, ca/crl.pem (optional)     from database.tls.ca (ConfigMap or Secret)
  client/tls.crt, client/tls.key       from database.tls.clientCert (Secret)
pgq-worker.tlsVolumes and pgq-worker.tlsVolumeMounts render list items (empty when nothing is
configured); every pod template that connects (workers, Jobs, CronJobs) includes both:
  volumes:
    {{- include "pgq-worker.tlsVolumes" . | nindent 8 }}
  volumeMounts:
    {{- include "pgq-worker.tlsVolumeMounts" . | nindent 12 }}
*/}}
{{- define "pgq-worker.tlsDir" -}}/etc/pgq/tls{{- end -}}

{{- define "pgq-worker.tlsCaEnabled" -}}
{{- $ca := .Values.database.tls.ca -}}
{{- if or $ca.configMap $ca.secret }}true{{ end -}}
{{- end -}}

{{- define "pgq-worker.tlsVolumes" -}}
{{- $t := .Values.database.tls -}}
{{- if include "pgq-worker.tlsCaEnabled" . }}
- name: db-ca
  {{- if $t.ca.configMap }}
  configMap:
    name: {{ tpl $t.ca.configMap $ }}
  {{- else }}
  secret:
    secretName: {{ tpl $t.ca.secret $ }}
  {{- end }}
    defaultMode: 0444
    items:
      - key: {{ $t.ca.key }}
        path: ca.crt
      {{- if $t.ca.crlKey }}
      - key: {{ $t.ca.crlKey }}
        path: crl.pem
      {{- end }}
{{- end }}
{{- if $t.clientCert.secret }}
# The key file is root-owned, group fsGroup, mode 0440: libpq accepts that for root-owned keys.
- name: db-client-cert
  secret:
    secretName: {{ tpl $t.clientCert.secret $ }}
    defaultMode: 0440
    items:
      - key: {{ $t.clientCert.certKey }}
        path: tls.crt
      - key: {{ $t.clientCert.keyKey }}
        path: tls.key
{{- end }}
{{- end -}}

{{- define "pgq-worker.tlsVolumeMounts" -}}
{{- if include "pgq-worker.tlsCaEnabled" . }}
- name: db-ca
  mountPath: {{ include "pgq-worker.tlsDir" . }}/ca
  readOnly: true
{{- end }}
{{- if .Values.database.tls.clientCert.secret }}
- name: db-client-cert
  mountPath: {{ include "pgq-worker.tlsDir" . }}/client
  readOnly: true
{{- end }}
{{- end -}}

{{/* The config.database keys that name the mounted TLS files (a YAML map, maybe empty). */}}
{{- define "pgq-worker.tlsSettings" -}}
{{- $t := .Values.database.tls -}}
{{- $dir := include "pgq-worker.tlsDir" . -}}
{{- $out := dict -}}
{{- if include "pgq-worker.tlsCaEnabled" . -}}
{{- $_ := set $out "sslrootcert" (printf "%s/ca/ca.crt" $dir) -}}
{{- if $t.ca.crlKey -}}
{{- $_ := set $out "sslcrl" (printf "%s/ca/crl.pem" $dir) -}}
{{- end -}}
{{- end -}}
{{- if $t.clientCert.secret -}}
{{- $_ := set $out "sslcert" (printf "%s/client/tls.crt" $dir) -}}
{{- $_ := set $out "sslkey" (printf "%s/client/tls.key" $dir) -}}
{{- end -}}
{{- toYaml $out -}}
{{- end -}}

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

{{/* config.database without unset (null) keys. */}}
{{- define "pgq-worker.databaseSettings" -}}
{{- $db := dict -}}
{{- range $k, $v := .Values.config.database -}}
{{- if not (kindIs "invalid" $v) -}}
{{- $_ := set $db $k $v -}}
{{- end -}}
{{- end -}}
{{- toYaml $db -}}
{{- end -}}

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
{{- $_ := include "pgq-worker.terminationGracePeriodSeconds" . -}}
{{- if or $hpa.enabled $keda.enabled -}}
{{- $_ := include "pgq-worker.validateGraceForScaleDown" . -}}
{{- end -}}
{{- if and $hpa.enabled $hpa.queueMetric.enabled (not (index .Values.config "entrypoints")) -}}
{{- fail "autoscaling.hpa.queueMetric needs config.entrypoints: the metric is selected by entrypoint" -}}
{{- end -}}
{{- end -}}

{{/*
The worker configuration file (/etc/pgq/config.yaml): config.* from the values, minus unset
keys, plus what the chart owns: the credential file and the HTTP listener.
*/}}
{{- define "pgq-worker.workerConfig" -}}
{{- $c := .Values.config -}}
{{- $db := include "pgq-worker.databaseSettings" . | fromYaml -}}
{{- if eq (include "pgq-worker.credentialMode" .) "dsn" -}}
{{- $_ := set $db "dsn_file" (printf "%s/dsn" (include "pgq-worker.secretDir" .)) -}}
{{- else -}}
{{- $_ := set $db "password_file" (printf "%s/password" (include "pgq-worker.secretDir" .)) -}}
{{- end -}}
{{- range $k, $v := include "pgq-worker.tlsSettings" . | fromYaml -}}
{{- $_ := set $db $k $v -}}
{{- end -}}
{{- $queue := dict -}}
{{- range $k, $v := $c.queue -}}
{{- if not (kindIs "invalid" $v) -}}
{{- $_ := set $queue $k $v -}}
{{- end -}}
{{- end -}}
{{- $cfg := dict "database" $db "pool" $c.pool "queue" $queue "logging" $c.logging "shutdown" $c.shutdown -}}
{{- with (index $c "retention") }}
{{- $_ := set $cfg "retention" . -}}
{{- end }}
{{- $_ := set $cfg "entrypoints" (default dict (index $c "entrypoints")) -}}
{{- $_ := set $cfg "schedules" (default dict (index $c "schedules")) -}}
{{- $_ := set $cfg "http" (dict "address" "0.0.0.0" "port" (.Values.containerPorts.http | int)) -}}
{{- toYaml $cfg -}}
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
<prefix>pgqueuer_updated_id_id1_idx); tests/scripts/deploy.sh checks the count and the plan.
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
PromQL label matchers selecting this release's worker metrics in alerts: the ServiceMonitor
scrapes the Service named <fullname>, so Prometheus sets job="<fullname>".
*/}}
{{- define "pgq-worker.alertSelector" -}}
{{- $rule := .Values.metrics.prometheusRule -}}
{{- $job := include "pgq-worker.fullname" . -}}
{{- if $rule.matchNamespace -}}
{{- printf "job=%q, namespace=%q" $job (include "pgq-worker.namespace" .) -}}
{{- else -}}
{{- printf "job=%q" $job -}}
{{- end -}}
{{- end -}}

{{/*
Annotations of the migration hook's objects: weight, and the delete policy. The Secret and
ConfigMap copies ("copy") are deleted as soon as the hooks succeed, so no password stays behind
in a hook object; the Job stays until the next hook run, for its logs.
*/}}
{{- define "pgq-worker.migrationHookAnnotations" -}}
helm.sh/hook: pre-install,pre-upgrade
helm.sh/hook-weight: {{ .weight | quote }}
helm.sh/hook-delete-policy: {{ ternary "before-hook-creation,hook-succeeded" "before-hook-creation" .copy }}
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

{{/* Labels of the migration objects: the workers' labels with component "migration", so no
worker selector (Service, PDB, Deployment) ever matches a migration pod. */}}
{{- define "pgq-worker.migrationLabels" -}}
{{- include "pgq-worker.labels" . | replace "app.kubernetes.io/component: worker" "app.kubernetes.io/component: migration" -}}
{{- end -}}
