{{/* Names, labels and the pieces that every pod of the chart shares. */}}

{{- define "voice.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "voice.fullname" -}}
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

{{/* A component's object name; takes (dict "root" $ "name" "session-svc"). */}}
{{- define "voice.componentName" -}}
{{- printf "%s-%s" (include "voice.fullname" .root) .name | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "voice.selectorLabels" -}}
app.kubernetes.io/name: {{ include "voice.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .name }}
{{- end }}

{{- define "voice.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version | replace "+" "_" }}
{{ include "voice.selectorLabels" . }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
app.kubernetes.io/part-of: voice-platform
{{- end }}

{{- define "voice.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "voice.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* registry/repository:tag; takes (dict "root" $ "image" .image). */}}
{{- define "voice.image" -}}
{{- $tag := .image.tag | default .root.Values.image.tag | default .root.Chart.AppVersion }}
{{- printf "%s%s:%s" .root.Values.image.registry .image.repository $tag }}
{{- end }}

{{/* An environment variable read from the existing Secret; takes (dict "root" $ "var" "VOICE_X" "key" "fieldInKeys"). */}}
{{- define "voice.secretEnv" -}}
{{- $secret := required "secrets.existingSecret is required: the name of a Secret holding the database, broker and JWT credentials" .root.Values.secrets.existingSecret -}}
- name: {{ .var }}
  valueFrom:
    secretKeyRef:
      name: {{ $secret }}
      key: {{ required (printf "secrets.keys.%s is required" .key) (get .root.Values.secrets.keys .key) }}
      {{- if .optional }}
      optional: true
      {{- end }}
{{- end }}

{{/* VOICE_PUBLIC_URL: publicUrl, else https://<first ingress host>, else nothing. */}}
{{- define "voice.publicUrl" -}}
{{- if .Values.publicUrl -}}
{{- .Values.publicUrl -}}
{{- else if and .Values.ingress.enabled .Values.ingress.hosts -}}
{{- printf "https://%s" (first .Values.ingress.hosts).host -}}
{{- end -}}
{{- end }}

{{/*
Variables every process of the platform reads (services and the setup Job): plain settings,
then credentials from the Secret. Takes (dict "root" $ "env" <plain variables>).
*/}}
{{- define "voice.env" -}}
{{- $root := .root }}
{{- $managed := list "VOICE_ENVIRONMENT" "VOICE_BUS_NAMESPACE" "VOICE_JWKS_URL" "VOICE_HOST" "VOICE_PORT" "VOICE_DATABASE_URL" "VOICE_MIGRATION_DATABASE_URL" "VOICE_SUPERUSER_DATABASE_URL" "VOICE_AMQP_URL" "VOICE_JWT_SECRET" "VOICE_JOIN_TOKEN_SECRET" "VOICE_KEK" "VOICE_PREVIOUS_KEKS" "VOICE_PUBLIC_URL" -}}
- name: VOICE_ENVIRONMENT
  value: {{ $root.Values.environment | quote }}
- name: VOICE_BUS_NAMESPACE
  value: {{ $root.Values.busNamespace | quote }}
{{- with include "voice.publicUrl" $root }}
- name: VOICE_PUBLIC_URL
  value: {{ . | quote }}
{{- end }}
{{- with $root.Values.auth.jwksUrl }}
- name: VOICE_JWKS_URL
  value: {{ . | quote }}
{{- end }}
{{- range $key := keys .env | sortAlpha }}
{{- if has $key $managed }}
{{- fail (printf "env.%s is set by the chart (credentials come from secrets.existingSecret; see values.yaml)" $key) }}
{{- end }}
- name: {{ $key }}
  value: {{ get $.env $key | toString | quote }}
{{- end }}
{{- include "voice.secretEnv" (dict "root" $root "var" "VOICE_DATABASE_URL" "key" "databaseUrl") | nindent 0 }}
{{- include "voice.secretEnv" (dict "root" $root "var" "VOICE_AMQP_URL" "key" "amqpUrl") | nindent 0 }}
{{- if $root.Values.secrets.keys.jwtSecret }}
{{- include "voice.secretEnv" (dict "root" $root "var" "VOICE_JWT_SECRET" "key" "jwtSecret") | nindent 0 }}
{{- else if not $root.Values.auth.jwksUrl }}
{{- fail "set secrets.keys.jwtSecret or auth.jwksUrl: services need a way to verify tokens" }}
{{- end }}
{{- include "voice.secretEnv" (dict "root" $root "var" "VOICE_JOIN_TOKEN_SECRET" "key" "joinTokenSecret") | nindent 0 }}
{{- if .kek }}
{{- include "voice.secretEnv" (dict "root" $root "var" "VOICE_KEK" "key" "kek") | nindent 0 }}
{{- include "voice.secretEnv" (dict "root" $root "var" "VOICE_PREVIOUS_KEKS" "key" "previousKeks" "optional" true) | nindent 0 }}
{{- end }}
{{- end }}

{{/* Pod-level fields shared by every Deployment and the setup Job. */}}
{{- define "voice.podCommon" -}}
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
volumes:
  # The root filesystem is read-only; Python and libraries still want a writable /tmp.
  - name: tmp
    emptyDir: {}
{{- end }}
