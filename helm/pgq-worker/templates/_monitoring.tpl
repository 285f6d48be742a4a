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

{{/*
Refuses an object whose API the cluster does not serve (its CRDs are not installed), with
the values key that asked for it: otherwise the install fails half-way, or `helm template`
output is rejected later. Usage:
  include "pgq-worker.requireAPI" (dict "ctx" . "api" "monitoring.coreos.com/v1" "by" "metrics.serviceMonitor.enabled" "what" "the Prometheus Operator")
*/}}
{{- define "pgq-worker.requireAPI" -}}
{{- if not (.ctx.Capabilities.APIVersions.Has .api) -}}
{{- fail (printf "%s needs %s's CRDs (%s), which this cluster does not serve: install %s first, or turn %s off (with helm template: --api-versions %s)" .by .what .api .what .by .api) -}}
{{- end -}}
{{- end -}}

{{/*
The worker group reaches the metrics: the pod label pgq/worker-group becomes the target
label group (empty, so absent, without groups), so one group down is not hidden by another.
*/}}
{{- define "pgq-worker.groupRelabeling" -}}
- sourceLabels: [__meta_kubernetes_pod_label_pgq_worker_group]
  targetLabel: group
{{- end -}}
