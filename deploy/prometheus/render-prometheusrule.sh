#!/usr/bin/env bash
# Prints meshprobe.rules.yaml wrapped as a Prometheus Operator PrometheusRule.
# The committed copy is regenerated with
#   deploy/prometheus/render-prometheusrule.sh > deploy/kubernetes/components/prometheus-operator/prometheusrule.yaml
# and a test fails when the two drift apart.
set -euo pipefail
rules="$(dirname "$0")/meshprobe.rules.yaml"
cat <<'HEADER'
# Generated from deploy/prometheus/meshprobe.rules.yaml by
# deploy/prometheus/render-prometheusrule.sh: edit the rules file, not this.
apiVersion: monitoring.coreos.com/v1
kind: PrometheusRule
metadata:
  name: meshprobe
  namespace: meshprobe
  labels:
    app.kubernetes.io/name: meshprobe
spec:
HEADER
# The rule file's own `groups:` document, comments dropped, under spec.
grep -v '^#' "$rules" | sed -e 's/^\(.\)/  \1/'
