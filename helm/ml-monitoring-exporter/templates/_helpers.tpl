{{/* Chart name, truncated to the 63 characters Kubernetes names allow. */}}
{{- define "mlmon.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Full name: release-chart unless the release name already holds the chart name. */}}
{{- define "mlmon.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* Labels every object carries. */}}
{{- define "mlmon.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "mlmon.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/* Labels the Service, ServiceMonitor, NetworkPolicy and PDB select the pod by. */}}
{{- define "mlmon.selectorLabels" -}}
app.kubernetes.io/name: {{ include "mlmon.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* The ServiceAccount the pod runs as. */}}
{{- define "mlmon.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "mlmon.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The ConfigMap holding config.yaml: the user's existing one or the chart's. */}}
{{- define "mlmon.configMapName" -}}
{{- default (include "mlmon.fullname" .) .Values.existingConfigMap }}
{{- end }}

{{/* The Secret holding the Redis password, empty when there is none. */}}
{{- define "mlmon.secretName" -}}
{{- if .Values.redis.existingSecret }}
{{- .Values.redis.existingSecret }}
{{- else if .Values.redis.password }}
{{- include "mlmon.fullname" . }}
{{- end }}
{{- end }}

{{/* Image reference: the digest when given, else the tag (default: appVersion). */}}
{{- define "mlmon.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/* Where the chart mounts config.yaml; the image's ENTRYPOINT reads it from here. */}}
{{- define "mlmon.configDir" -}}
/etc/ml-monitoring-exporter
{{- end }}

{{/* Where the chart mounts Secrets: web-config/, web-tls/, redis-tls/, redis-password/. */}}
{{- define "mlmon.secretsDir" -}}
/var/run/secrets/ml-monitoring-exporter
{{- end }}

{{/* The Secret holding web-config.yml: the user's existing one or the chart's, else empty. */}}
{{- define "mlmon.webConfigSecretName" -}}
{{- if .Values.webConfig.existingSecret }}
{{- .Values.webConfig.existingSecret }}
{{- else if .Values.webConfig.config }}
{{- printf "%s-web-config" (include "mlmon.fullname" .) }}
{{- end }}
{{- end }}

{{/* "https" when the listener serves TLS, else "http". */}}
{{- define "mlmon.scheme" -}}
{{- if or .Values.webConfig.tlsSecret (hasKey .Values.webConfig.config "tls_server_config") -}}
https
{{- else -}}
http
{{- end }}
{{- end }}

{{/* A probe from values, switched to HTTPS when the listener serves TLS. Takes (list $ probe). */}}
{{- define "mlmon.probe" -}}
{{- $probe := deepCopy (index . 1) }}
{{- if and (hasKey $probe "httpGet") (eq (include "mlmon.scheme" (index . 0)) "https") }}
{{- $_ := set $probe.httpGet "scheme" "HTTPS" }}
{{- end }}
{{- toYaml $probe }}
{{- end }}

{{/* Secret volumes by mount name, as YAML: {name: {name: <secret>, items: [...]}}. */}}
{{- define "mlmon.secretMounts" -}}
{{- $mounts := dict }}
{{- with include "mlmon.webConfigSecretName" . }}
{{- $_ := set $mounts "web-config" (dict "name" . "items" (list (dict "key" (ternary $.Values.webConfig.existingSecretKey "web-config.yml" (not (empty $.Values.webConfig.existingSecret))) "path" "web-config.yml"))) }}
{{- end }}
{{- with .Values.webConfig.tlsSecret }}
{{- $_ := set $mounts "web-tls" (dict "name" .) }}
{{- end }}
{{- with .Values.redis.tlsSecret }}
{{- $_ := set $mounts "redis-tls" (dict "name" .) }}
{{- end }}
{{- if and (include "mlmon.secretName" .) .Values.redis.passwordAsFile }}
{{- $key := ternary .Values.redis.existingSecretKey "redis-password" (not (empty .Values.redis.existingSecret)) }}
{{- $_ := set $mounts "redis-password" (dict "name" (include "mlmon.secretName" .) "items" (list (dict "key" $key "path" "password"))) }}
{{- end }}
{{- toYaml $mounts }}
{{- end }}

{{/* The headless Service a sharded StatefulSet names its pods' DNS records after. */}}
{{- define "mlmon.headlessServiceName" -}}
{{- printf "%s-headless" (include "mlmon.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Label that marks the headless Service, which the ServiceMonitor must not select. */}}
{{- define "mlmon.headlessLabel" -}}
ml-monitoring-exporter/headless
{{- end }}

{{/*
One scrape endpoint of a ServiceMonitor or PodMonitor, from (list $ settings): the scheme
follows the listener, the rest comes from serviceMonitor.* or podMonitor.*.
*/}}
{{- define "mlmon.scrapeEndpoint" -}}
{{- $ := index . 0 }}
{{- $m := index . 1 -}}
port: metrics
path: /metrics
scheme: {{ include "mlmon.scheme" $ }}
{{- with $m.tlsConfig }}
tlsConfig:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $m.basicAuth }}
basicAuth:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $m.interval }}
interval: {{ . }}
{{- end }}
{{- with $m.scrapeTimeout }}
scrapeTimeout: {{ . }}
{{- end }}
honorLabels: {{ $m.honorLabels }}
{{- with $m.relabelings }}
relabelings:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $m.metricRelabelings }}
metricRelabelings:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{/* Labels of the `helm test` pod (the NetworkPolicy admits it by these). */}}
{{- define "mlmon.helmTestLabels" -}}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: helm-test
{{- end }}
