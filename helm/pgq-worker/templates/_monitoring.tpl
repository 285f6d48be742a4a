{{/*
Monitoring: the label selector the alerts use.
*/}}

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
