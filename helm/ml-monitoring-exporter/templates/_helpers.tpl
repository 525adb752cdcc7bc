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

{{/*
The name of an object beside the main one, from (list $ suffix [limit]): "<fullname>-<suffix>"
when it fits in `limit` characters (63, the DNS label Kubernetes allows). Else the full name is
cut and tagged with 8 hex characters of its sha256, and the suffix kept whole, so neither two
suffixes nor two long release names collapse into one name.
*/}}
{{- define "mlmon.childName" -}}
{{- $ := index . 0 }}
{{- $suffix := index . 1 }}
{{- $limit := 63 }}
{{- if gt (len .) 2 }}{{ $limit = index . 2 | int }}{{ end }}
{{- $full := include "mlmon.fullname" $ }}
{{- $tag := sha256sum $full | trunc 8 }}
{{- $name := ternary (printf "%s-%s" $full $suffix) $full (ne $suffix "") }}
{{- $room := sub $limit (add 10 (ternary (add 1 (len $suffix)) 0 (ne $suffix ""))) | int }}
{{- if le (len $name) $limit }}
{{- $name }}
{{- else if lt $room 1 }}
{{- printf "%s-%s" (trunc (int (sub $limit 9)) $name | trimSuffix "-" | trimSuffix "-") (sha256sum $name | trunc 8) }}
{{- else }}
{{- $cut := trunc $room $full | trimSuffix "-" | trimSuffix "-" }}
{{- ternary (printf "%s-%s-%s" $cut $tag $suffix) (printf "%s-%s" $cut $tag) (ne $suffix "") }}
{{- end }}
{{- end }}

{{/*
The Deployment's (or sharded StatefulSet's) name. A StatefulSet's controller labels each pod
with controller-revision-hash "<name>-<10 characters>", a label value of at most 63, so its
name keeps to 52.
*/}}
{{- define "mlmon.workloadName" -}}
{{- include "mlmon.childName" (list . "" (ternary 52 63 (gt (int .Values.shards) 1))) }}
{{- end }}

{{/*
The path the exporter serves its metrics at (--web.telemetry-path), which the ServiceMonitor,
PodMonitor and helm test scrape.
*/}}
{{- define "mlmon.telemetryPath" -}}
{{- include "mlmon.checkExtraArgs" . }}
{{- .Values.telemetryPath }}
{{- end }}

{{/*
Fails on an extraArgs flag the chart sets itself (or its abbreviation, which the exporter's
parser accepts): the exporter takes the later copy, while the container port, probes, Service
and monitors keep following the chart's value. Each names the value to set instead.
*/}}
{{- define "mlmon.checkExtraArgs" -}}
{{- $owned := dict
  "--web.listen-address" "service.port (the container port, probes, Service and monitors follow it)"
  "--web.telemetry-path" "telemetryPath (the ServiceMonitor, PodMonitor and helm test scrape that path too)"
  "--web.config.file" "webConfig.config or webConfig.existingSecret, with webConfig.tlsSecret (the probes and monitors switch to HTTPS with the listener)"
  "--config.file" "config or existingConfigMap (the chart mounts it where the image reads config.yaml)"
  "--log.format" "logFormat"
  "--shard" "shards (a StatefulSet whose pods each take their share of the models)"
}}
{{- $others := list "--log.level" "--help" "--version" }}
{{- range $arg := .Values.extraArgs }}
{{- $name := first (splitList "=" (toString $arg)) }}
{{- $shared := false }}
{{- range $others }}{{ if hasPrefix $name . }}{{ $shared = true }}{{ end }}{{ end }}
{{- range $flag, $instead := $owned }}
{{- if and (hasPrefix "--" $name) (gt (len $name) 2) (hasPrefix $name $flag) (not $shared) }}
{{- fail (printf "extraArgs has %s, which sets %s, a flag the chart sets itself: leave it out and set %s" $arg $flag $instead) }}
{{- end }}
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
{{- include "mlmon.childName" (list . "web-config") }}
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

{{/*
A probe from values, from (list $ probe path). The probe's handler (httpGet, tcpSocket, exec or
grpc) replaces the default one, an HTTP GET of `path` on the metrics port; its timing fields
stay. An httpGet without path or port takes the default's, and switches to HTTPS when the
listener serves TLS (unless it names its scheme). A null probe renders none: the caller skips it.
*/}}
{{- define "mlmon.probe" -}}
{{- $path := index . 2 }}
{{- $ := index . 0 }}
{{- $probe := deepCopy (index . 1) }}
{{- $handlers := list }}
{{- range list "httpGet" "tcpSocket" "exec" "grpc" }}
{{- if hasKey $probe . }}{{ $handlers = append $handlers . }}{{ end }}
{{- end }}
{{- if gt (len $handlers) 1 }}
{{- fail (printf "a probe has %s: give it one handler" (join " and " $handlers)) }}
{{- end }}
{{- if not $handlers }}
{{- $_ := set $probe "httpGet" (dict) }}
{{- end }}
{{- if hasKey $probe "httpGet" }}
{{- $_ := merge $probe.httpGet (dict "path" $path "port" "metrics") }}
{{- if eq (include "mlmon.scheme" $) "https" }}
{{- $_ := merge $probe.httpGet (dict "scheme" "HTTPS") }}
{{- end }}
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
{{- include "mlmon.childName" (list . "headless") }}
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
path: {{ include "mlmon.telemetryPath" $ }}
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
