{{/*
Worker groups (values.workers): the group of a context, the group names, and a group's
values merged over the top-level values.
*/}}

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
