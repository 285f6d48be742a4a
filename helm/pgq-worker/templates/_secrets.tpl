{{/*
The database credential: where it comes from (chart-made or existing Secret), its kind
(password or whole DSN), the Secret's name and key, and where the file is mounted.
*/}}

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
