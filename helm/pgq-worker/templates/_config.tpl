{{/*
The worker configuration file (config.yaml) the chart renders from config:.
*/}}

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
{{- $retention := default dict (index $c "retention") -}}
{{- if .Values.prune.cronJob.enabled -}}
{{- /* The prune CronJob prunes: the workers keep everything (0s), so the two never both prune. */ -}}
{{- $retention = merge (dict "log_older_than" "0s" "held_older_than" "0s" "statistics_older_than" "0s") (omit $retention "log_older_than" "held_older_than" "statistics_older_than") -}}
{{- end -}}
{{- with $retention }}
{{- $_ := set $cfg "retention" . -}}
{{- end }}
{{- with (index $c "migrations") }}
{{- $_ := set $cfg "migrations" . -}}
{{- end }}
{{- $_ := set $cfg "entrypoints" (default dict (index $c "entrypoints")) -}}
{{- $_ := set $cfg "schedules" (default dict (index $c "schedules")) -}}
{{- /* What the worker refuses at start, refused here: a credential-looking handler header or
variable written inline lands in the ConfigMap (headers_from_files / env_from_files instead). */ -}}
{{- range $section := list "entrypoints" "schedules" -}}
{{- range $name, $job := index $cfg $section -}}
{{- $h := default dict (index (default dict $job) "handler") -}}
{{- if not (index $h "allow_inline_secrets") -}}
{{- range $key := list "headers" "env" -}}
{{- range $var, $_ := default dict (index $h $key) -}}
{{- if regexMatch "(?i)pass|secret|token|auth|key|cookie|credential|session|signature" $var -}}
{{- fail (printf "config.%s.%s.handler.%s.%s looks like a credential: mount it from a Secret (extraVolumes, extraVolumeMounts) and name the file under %s_from_files, or set allow_inline_secrets: true" $section $name $key $var $key) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- $_ := set $cfg "http" (dict "address" "0.0.0.0" "port" (.Values.containerPorts.http | int)) -}}
{{- toYaml $cfg -}}
{{- end -}}

{{/*
TCP ports of the database endpoints a worker (group) connects to, comma-separated: the
statement connections' port (config.database.port, the port of a chart-made DSN, 5432 by
default) and the LISTEN connection's (config.database.listener.port, else the same), plus
networkPolicy.databasePorts. With a DSN in an existing Secret the chart cannot read its
port: networkPolicy.databasePorts must name it when egress is restricted.
*/}}
{{- define "pgq-worker.databasePorts" -}}
{{- $db := include "pgq-worker.databaseSettings" . | fromYaml -}}
{{- $ports := list -}}
{{- $main := "" -}}
{{- if eq (include "pgq-worker.credentialMode" .) "dsn" -}}
{{- if eq (include "pgq-worker.secretSource" .) "chart" -}}
{{- $dsn := .Values.database.secret.dsn -}}
{{- $uri := regexFind "^postgres(ql)?://([^@/]*@)?[^/:?]*(:[0-9]+)?" $dsn -}}
{{- $kv := regexFind "(^|\\s)port\\s*=\\s*'?[0-9]+" $dsn -}}
{{- if $uri -}}
{{- $main = default "5432" (regexFind "[0-9]+$" (regexFind ":[0-9]+$" $uri)) -}}
{{- else if $kv -}}
{{- $main = regexFind "[0-9]+$" $kv -}}
{{- else -}}
{{- $main = "5432" -}}
{{- end -}}
{{- else if and (not .Values.networkPolicy.allowExternalEgress) (not .Values.networkPolicy.databasePorts) -}}
{{- fail "networkPolicy.allowExternalEgress false with a DSN in database.existingSecret: the chart cannot read the DSN's port, so set networkPolicy.databasePorts (e.g. [5432], and the LISTEN endpoint's port too)" -}}
{{- end -}}
{{- else -}}
{{- $main = toString (default 5432 (index $db "port")) -}}
{{- end -}}
{{- with $main }}{{ $ports = append $ports . }}{{ end -}}
{{- with index $db "listener" -}}
{{- $ports = append $ports (toString (default (default "5432" $main) (index . "port"))) -}}
{{- end -}}
{{- range .Values.networkPolicy.databasePorts -}}
{{- $ports = append $ports (toString .) -}}
{{- end -}}
{{- $ports | uniq | join "," -}}
{{- end -}}
