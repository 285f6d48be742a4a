{{/*
The schema migration Job: its Helm hook annotations.
*/}}

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
