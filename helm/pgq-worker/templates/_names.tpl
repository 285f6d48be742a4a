{{/*
Names, labels and annotations of every object, the ServiceAccount name and the image
references.
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

{{/* Worker image reference: registry/repository, then @digest or :tag (appVersion by default);
global.imageRegistry (a mirror, set by a parent chart or the platform) wins over image.registry. */}}
{{- define "pgq-worker.image" -}}
{{- $img := .Values.image -}}
{{- $repo := $img.repository -}}
{{- $registry := default $img.registry (index (default dict .Values.global) "imageRegistry") -}}
{{- if $registry }}{{ $repo = printf "%s/%s" $registry $img.repository }}{{ end -}}
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
{{- $registry := default $img.registry (index (default dict .Values.global) "imageRegistry") -}}
{{- if $registry }}{{ $repo = printf "%s/%s" $registry $img.repository }}{{ end -}}
{{- if $img.digest -}}
{{- printf "%s@%s" $repo $img.digest -}}
{{- else -}}
{{- printf "%s:%s" $repo ($img.tag | toString) -}}
{{- end -}}
{{- end -}}

{{/* Labels of the migration objects: the workers' labels with component "migration", so no
worker selector (Service, PDB, Deployment) ever matches a migration pod. */}}
{{- define "pgq-worker.migrationLabels" -}}
{{- include "pgq-worker.labels" . | replace "app.kubernetes.io/component: worker" "app.kubernetes.io/component: migration" -}}
{{- end -}}
