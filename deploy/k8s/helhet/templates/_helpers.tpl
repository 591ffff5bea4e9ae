{{/* Names and labels. */}}
{{- define "helhet.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 50 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "helhet.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: helhet
{{- end -}}

{{- define "helhet.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* A role's name and selector: call with (dict "root" $ "component" "profile" "role" "worker"). */}}
{{- define "helhet.roleName" -}}
{{- printf "%s-%s-%s" (include "helhet.fullname" .root) .component .role | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "helhet.roleSelector" -}}
{{ include "helhet.selectorLabels" .root }}
app.kubernetes.io/component: {{ .component }}
helhet.io/role: {{ .role }}
{{- end -}}

{{- define "helhet.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "helhet.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "helhet.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{/* Connection settings every container shares: Kafka, MongoDB, OIDC, telemetry. */}}
{{- define "helhet.commonEnv" -}}
- name: HELHET_ENVIRONMENT
  value: {{ .Values.environment | quote }}
- name: HELHET_LOG_LEVEL
  value: {{ .Values.logLevel | quote }}
- name: HELHET_KAFKA_BOOTSTRAP_SERVERS
  value: {{ .Values.kafka.bootstrapServers | quote }}
- name: HELHET_KAFKA_SECURITY_PROTOCOL
  value: {{ .Values.kafka.securityProtocol | quote }}
- name: HELHET_KAFKA_TOPIC_REPLICATION_FACTOR
  value: {{ .Values.kafka.replicationFactor | quote }}
{{- with .Values.kafka.sasl }}
{{- if .mechanism }}
- name: HELHET_KAFKA_SASL_MECHANISM
  value: {{ .mechanism | quote }}
- name: HELHET_KAFKA_SASL_USERNAME
  value: {{ .username | quote }}
- name: HELHET_KAFKA_SASL_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ .passwordSecret.name }}
      key: {{ .passwordSecret.key }}
{{- end }}
{{- end }}
{{- if .Values.kafka.tls.caSecret.name }}
- name: HELHET_KAFKA_SSL_CAFILE
  value: /etc/helhet/kafka-ca/{{ .Values.kafka.tls.caSecret.key }}
{{- end }}
- name: HELHET_MONGODB_URI
  valueFrom:
    secretKeyRef:
      name: {{ .Values.mongodb.uriSecret.name }}
      key: {{ .Values.mongodb.uriSecret.key }}
- name: HELHET_MONGODB_DATABASE
  value: {{ .Values.mongodb.database | quote }}
- name: HELHET_OIDC_ISSUER
  value: {{ .Values.oidc.issuer | quote }}
- name: HELHET_OIDC_AUDIENCE
  value: {{ .Values.oidc.audience | quote }}
- name: HELHET_OIDC_JWKS_URL
  value: {{ .Values.oidc.jwksUrl | quote }}
{{- if .Values.oidc.tokenUrl }}
- name: HELHET_OIDC_TOKEN_URL
  value: {{ .Values.oidc.tokenUrl | quote }}
{{- end }}
{{- if .Values.otel.endpoint }}
- name: HELHET_OTEL_EXPORTER_OTLP_ENDPOINT
  value: {{ .Values.otel.endpoint | quote }}
{{- end }}
- name: HELHET_API_HOST
  value: "0.0.0.0"
- name: HOME
  value: /tmp
{{- end -}}

{{/* The Kafka CA volume, when there is one; /tmp is the only writable path. */}}
{{- define "helhet.volumes" -}}
- name: tmp
  emptyDir:
    sizeLimit: 256Mi
{{- if .Values.kafka.tls.caSecret.name }}
- name: kafka-ca
  secret:
    secretName: {{ .Values.kafka.tls.caSecret.name }}
    items:
      - key: {{ .Values.kafka.tls.caSecret.key }}
        path: {{ .Values.kafka.tls.caSecret.key }}
{{- end }}
{{- end -}}

{{- define "helhet.volumeMounts" -}}
- name: tmp
  mountPath: /tmp
{{- if .Values.kafka.tls.caSecret.name }}
- name: kafka-ca
  mountPath: /etc/helhet/kafka-ca
  readOnly: true
{{- end }}
{{- end -}}

{{- define "helhet.podSecurity" -}}
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
{{- with .Values.image.pullSecrets }}
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
{{- with .Values.priorityClassName }}
priorityClassName: {{ . }}
{{- end }}
{{- end -}}
