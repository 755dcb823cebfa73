{{/*
Common labels of every object. Argument: the component name (agent, apiserver, brupop-controller).
The component values and the `brupop.bottlerocket.aws/component` selectors are upstream's: the
workloads' selectors are immutable, so a cluster upgrading from upstream Brupop needs them unchanged.
*/}}
{{- define "brupop.labels" -}}
app.kubernetes.io/component: {{ . }}
app.kubernetes.io/managed-by: brupop
app.kubernetes.io/part-of: brupop
brupop.bottlerocket.aws/component: {{ . }}
{{- end }}

{{/*
Selector of a component's pods (must stay exactly upstream's; see above).
*/}}
{{- define "brupop.selector" -}}
brupop.bottlerocket.aws/component: {{ . }}
{{- end }}

{{/*
Pod template labels: `podLabels` from the values plus the common labels, which win on a clash
(the apiserver authorises agents by brupop.bottlerocket.aws/component=agent).
Argument: (dict "component" NAME "root" $).
*/}}
{{- define "brupop.podLabels" -}}
{{- $own := include "brupop.labels" .component | fromYaml -}}
{{- $extra := .root.Values.podLabels | default dict -}}
{{- toYaml (merge $own (deepCopy $extra)) -}}
{{- end }}

{{/*
imagePullSecrets from `image_pull_secrets`: a list, or (as upstream documented it) a YAML string
holding the list. Argument: $.
*/}}
{{- define "brupop.imagePullSecrets" -}}
{{- with .Values.image_pull_secrets -}}
imagePullSecrets:
{{- if kindIs "string" . }}
{{- . | nindent 2 }}
{{- else }}
{{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}
{{- end }}

{{/*
Node affinity shared by all workloads: Linux nodes of the architectures the image is built for.
*/}}
{{- define "brupop.nodeSelectorRequirements" -}}
- key: kubernetes.io/os
  operator: In
  values:
    - linux
- key: kubernetes.io/arch
  operator: In
  values:
    - amd64
    - arm64
{{- end }}

{{/*
Pod-level security context of the apiserver and the controller: non-root (the image's user), with
the runtime's default seccomp profile.
*/}}
{{- define "brupop.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 1000
runAsGroup: 1000
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{/*
Container security context shared by all three components.
*/}}
{{- define "brupop.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities:
  drop:
    - ALL
{{- end }}

{{/*
Environment of the logging settings. Argument: (dict "component" NAME "root" $), NAME one of
agent, apiserver, controller (the keys under `logging`).
*/}}
{{- define "brupop.loggingEnv" -}}
{{- $logging := .root.Values.logging -}}
- name: LOGGING_FORMATTER
  value: {{ $logging.formatter | toString | quote }}
- name: LOGGING_ANSI_ENABLED
  value: {{ $logging.ansi_enabled | toString | quote }}
- name: TRACING_FILTER_DIRECTIVE
  value: {{ (index $logging .component).tracing_filter | toString | quote }}
{{- end }}

{{/*
Scheduling fields from a component's placement block (tolerations, nodeSelector,
priorityClassName), each only when set. Argument: the placement block.
*/}}
{{- define "brupop.scheduling" -}}
{{- with .tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .priorityClassName }}
priorityClassName: {{ . | quote }}
{{- end }}
{{- end }}
