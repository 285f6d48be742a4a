{{/*
Helpers that turn values into numbers or templates: tpl over values, durations in
seconds, the pods' termination grace period.
*/}}

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
