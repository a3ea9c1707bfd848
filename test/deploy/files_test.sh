#!/usr/bin/env bash
# Checks of deploy/'s files with the real tools, from Debian packages
# (.ci/install-deps): promtool, yamllint, shellcheck.
#
#   files_test.sh SOURCE_DIR CASE
set -euo pipefail

SOURCE=$1
CASE=$2
cd "$SOURCE"

# shellcheck source=../lib/common.sh
source "$SOURCE/test/lib/common.sh"
make_workdir

need() {
  command -v "$1" >/dev/null || fail "$1 is not installed (.ci/install-deps installs it)"
}

case "$CASE" in
  rules_pass_promtool_check)
    need promtool
    promtool check rules deploy/prometheus/meshprobe.rules.yaml >"$workdir/out" 2>&1 \
      || fail "$(cat "$workdir/out")"
    # Warnings (e.g. a rule with no effect) count as failures too.
    ! grep -qi 'warn' "$workdir/out" || fail "$(cat "$workdir/out")"
    ;;

  rules_unit_tests_pass)
    need promtool
    promtool test rules deploy/prometheus/meshprobe.rules.test.yaml >"$workdir/out" 2>&1 \
      || fail "$(cat "$workdir/out")"
    # Every alert is tested, firing (with labels) and silent (exp_alerts: []).
    grep -oP '^\s+- alert: \K\w+' deploy/prometheus/meshprobe.rules.yaml >"$workdir/alerts"
    [ -s "$workdir/alerts" ] || fail "no alerts found"
    while read -r alert; do
      tests=$(grep -A2 "alertname: $alert\$" deploy/prometheus/meshprobe.rules.test.yaml)
      grep -q 'exp_alerts: \[\]' <<<"$tests" || fail "$alert has no test where it stays silent"
      grep -q 'exp_labels:' <<<"$tests" || fail "$alert has no test where it fires"
    done <"$workdir/alerts"
    # And every recording rule is tested, or read by another rule.
    grep -oP '^\s+- record: \K\S+' deploy/prometheus/meshprobe.rules.yaml >"$workdir/records"
    while read -r record; do
      grep -q "expr: $record" deploy/prometheus/meshprobe.rules.test.yaml \
        || [ "$(grep -c -F "$record" deploy/prometheus/meshprobe.rules.yaml)" -ge 2 ] \
        || fail "recording rule $record is never exercised"
    done <"$workdir/records"
    ;;

  prometheusrule_matches_the_rules)
    deploy/prometheus/render-prometheusrule.sh >"$workdir/prometheusrule.yaml"
    diff -u deploy/kubernetes/components/prometheus-operator/prometheusrule.yaml \
      "$workdir/prometheusrule.yaml" >"$workdir/diff" \
      || fail "stale PrometheusRule; regenerate it with deploy/prometheus/render-prometheusrule.sh:
$(cat "$workdir/diff")"
    ;;

  scrape_config_passes_promtool)
    need promtool
    # The scrape jobs inside a whole prometheus.yml that also loads the rules.
    # Debian's Prometheus is built without Kubernetes service discovery, so
    # kubernetes_sd_configs become static_configs for promtool (everything
    # else, relabelling included, is checked as written); check_manifests.py
    # (case monitoring) checks the discovery block against the DaemonSets.
    cp deploy/prometheus/meshprobe.rules.yaml "$workdir/"
    "${PYTHON:-python3}" - deploy/prometheus/scrape-config.yaml "$workdir/prometheus.yml" <<'PY'
import sys, yaml
config = yaml.safe_load(open(sys.argv[1]))
for job in config["scrape_configs"]:
    if job.pop("kubernetes_sd_configs", None) is not None:
        job["static_configs"] = [{"targets": ["127.0.0.1:9717"]}]
config["global"] = {"scrape_interval": "30s", "evaluation_interval": "30s"}
config["rule_files"] = ["meshprobe.rules.yaml"]
yaml.safe_dump(config, open(sys.argv[2], "w"))
PY
    promtool check config "$workdir/prometheus.yml" >"$workdir/out" 2>&1 || fail "$(cat "$workdir/out")"
    # The job names the alerts expect.
    grep -q 'job_name: meshprobe$' deploy/prometheus/scrape-config.yaml || fail "no job meshprobe"
    ;;

  yaml_passes_yamllint)
    need yamllint
    yamllint -c test/deploy/yamllint.yaml --strict deploy/ test/deploy/ >"$workdir/out" 2>&1 \
      || fail "$(cat "$workdir/out")"
    ;;

  scripts_pass_shellcheck)
    need shellcheck
    shellcheck -x -P SCRIPTDIR deploy/image/assemble-rootfs.sh deploy/bastion/make-bundle.sh \
      deploy/prometheus/render-prometheusrule.sh test/deploy/*.sh >"$workdir/out" 2>&1 \
      || fail "$(cat "$workdir/out")"
    ;;

  *)
    fail "unknown case"
    ;;
esac
echo "ok [$CASE]"
