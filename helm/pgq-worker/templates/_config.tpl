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
{{- with (index $c "retention") }}
{{- $_ := set $cfg "retention" . -}}
{{- end }}
{{- with (index $c "migrations") }}
{{- $_ := set $cfg "migrations" . -}}
{{- end }}
{{- $_ := set $cfg "entrypoints" (default dict (index $c "entrypoints")) -}}
{{- $_ := set $cfg "schedules" (default dict (index $c "schedules")) -}}
{{- $_ := set $cfg "http" (dict "address" "0.0.0.0" "port" (.Values.containerPorts.http | int)) -}}
{{- toYaml $cfg -}}
{{- end -}}
