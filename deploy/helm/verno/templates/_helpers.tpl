{{/* The chart name. */}}
{{- define "verno.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The full name: the release name, with the chart name unless the release name holds it. */}}
{{- define "verno.fullname" -}}
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

{{- define "verno.selectorLabels" -}}
app.kubernetes.io/name: {{ include "verno.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "verno.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "verno.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "verno.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "verno.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "verno.tlsSecretName" -}}
{{- default (printf "%s-tls" (include "verno.fullname" .)) .Values.tls.existingSecret -}}
{{- end -}}

{{/* The cert-manager Certificate of the serving certificate (what inject-ca-from names). */}}
{{- define "verno.certificateName" -}}
{{- printf "%s-serving" (include "verno.fullname" .) -}}
{{- end -}}

{{/* Namespaces the webhooks never see: kube-system, the release namespace, and the configured ones. */}}
{{- define "verno.excludedNamespaces" -}}
{{- $all := list "kube-system" .Release.Namespace -}}
{{- range .Values.server.excludeNamespaces -}}
{{- $all = append $all . -}}
{{- end -}}
{{- toYaml (uniq $all) -}}
{{- end -}}

{{/* One webhook: kind is "mutate" or "validate", rules the list of RuleWithOperations. */}}
{{- define "verno.webhook" -}}
{{- $root := .root -}}
{{- $policy := lower $root.Values.webhooks.failurePolicy -}}
- name: {{ printf "%s.%s.svc-%s" .kind (include "verno.fullname" $root) $policy }}
  admissionReviewVersions: ["v1"]
  clientConfig:
    service:
      name: {{ include "verno.fullname" $root }}
      namespace: {{ $root.Release.Namespace }}
      path: {{ printf "/%s/%s" .kind $policy }}
      port: {{ $root.Values.service.port }}
    {{- if not $root.Values.certManager.enabled }}
    caBundle: {{ required "webhooks.caBundle is required: base64 of the CA certificate (see values.yaml), or set certManager.enabled" $root.Values.webhooks.caBundle }}
    {{- end }}
  failurePolicy: {{ $root.Values.webhooks.failurePolicy }}
  matchPolicy: Equivalent
  {{- if eq .kind "mutate" }}
  reinvocationPolicy: IfNeeded
  {{- end }}
  sideEffects: None
  timeoutSeconds: {{ $root.Values.webhooks.timeoutSeconds }}
  namespaceSelector:
    matchExpressions:
      - key: kubernetes.io/metadata.name
        operator: NotIn
        values:
          {{- include "verno.excludedNamespaces" $root | nindent 10 }}
  {{- with $root.Values.webhooks.matchConditions }}
  matchConditions:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  rules:
    {{- toYaml .rules | nindent 4 }}
{{- end -}}

{{/* verno controller: its own name, so the webhook's selectors (Service, PDB, anti-affinity) never match it. */}}
{{- define "verno.controller.fullname" -}}
{{- printf "%s-controller" (include "verno.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "verno.controller.selectorLabels" -}}
app.kubernetes.io/name: {{ printf "%s-controller" (include "verno.name" .) | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "verno.controller.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "verno.controller.selectorLabels" . }}
app.kubernetes.io/component: controller
app.kubernetes.io/part-of: {{ include "verno.name" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "verno.controller.serviceAccountName" -}}
{{- if .Values.controller.serviceAccount.create -}}
{{- default (include "verno.controller.fullname" .) .Values.controller.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.controller.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* The user the controller's requests come as (verno serve --controller-username). */}}
{{- define "verno.controller.username" -}}
{{- printf "system:serviceaccount:%s:%s" .Release.Namespace (include "verno.controller.serviceAccountName" .) -}}
{{- end -}}
