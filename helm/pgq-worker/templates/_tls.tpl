{{/*
TLS files for the database connection (database.tls): volumes, mounts and the
config.database keys naming them.
*/}}

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
