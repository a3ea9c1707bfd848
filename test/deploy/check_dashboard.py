#!/usr/bin/env python3
"""Checks deploy/grafana/meshprobe.json and the PromQL of the dashboard and
the alert rules.

    check_dashboard.py SOURCE_DIR CASE [ARGS]

  loads     the JSON loads as a Grafana dashboard: uid, title, schema
            version, unique panel ids, panels on the 24-column grid without
            overlaps, every panel on the ${datasource} variable, every
            $variable defined, and the panels the issue asks for present
  promql    every expression (panel targets and the selectors inside
            label_values() of the variables), with the variables replaced by
            concrete values, passes `promtool check rules` as a recording rule
  alerts    the firewall-regressions panels that name an alert use exactly
            that alert's expression (whitespace aside)
  names METRICS...
            every series the rules and the dashboard read is one the agent
            exports (METRICS: /metrics scrapes of live agents; Kubernetes-mode
            series from agent/results/kube_metrics.cpp), one the rules record, or one
            Prometheus makes (up, ALERTS)
  print-exprs
            prints each dashboard expression, variables replaced, one per line
            as JSON strings: TITLE<TAB>EXPR (for the live test)
"""

import json
import os
import re
import subprocess
import sys
import tempfile

import yaml

failures = []


def check(condition, message):
    if not condition:
        failures.append(message)
    return condition


# Grafana's variables, replaced by something concrete before PromQL parsing:
# the dashboard's own multi-value variables become a regex, the built-in
# intervals durations.
BUILTINS = {"__rate_interval": "5m", "__interval": "1m", "__range": "1h"}
VARIABLE = re.compile(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)")


def load(source):
    with open(os.path.join(source, "deploy", "grafana", "meshprobe.json")) as f:
        return json.load(f)


def load_rules(source):
    with open(os.path.join(source, "deploy", "prometheus", "meshprobe.rules.yaml")) as f:
        return yaml.safe_load(f)


def all_panels(dashboard):
    for panel in dashboard.get("panels", []):
        yield panel
        for inner in panel.get("panels", []):  # panels of collapsed rows
            yield inner


def variables(dashboard):
    return {v["name"]: v for v in dashboard.get("templating", {}).get("list", [])}


def substitute(expr, dashboard):
    names = variables(dashboard)

    def replace(match):
        name = match.group(1) or match.group(2)
        if name in BUILTINS:
            return BUILTINS[name]
        if name in names:
            return ".*"
        return match.group(0)
    return VARIABLE.sub(replace, expr)


def expressions(dashboard):
    """(where, expression) for every PromQL expression in the dashboard."""
    for panel in all_panels(dashboard):
        for target in panel.get("targets", []):
            if "expr" in target:
                yield f"panel {panel.get('title')!r} {target.get('refId')}", target["expr"]
    for name, var in variables(dashboard).items():
        if var.get("type") != "query":
            continue
        query = var.get("query")
        query = query.get("query", "") if isinstance(query, dict) else query or ""
        m = re.fullmatch(r"\s*label_values\((.*),\s*(\w+)\s*\)\s*", query)
        if check(m, f"variable {name}: expected label_values(SELECTOR, LABEL), got {query!r}"):
            yield f"variable {name}", m.group(1)


def alert_expressions(rules):
    return {r["alert"]: r["expr"] for g in rules["groups"] for r in g["rules"] if "alert" in r}


def recorded(rules):
    return {r["record"] for g in rules["groups"] for r in g["rules"] if "record" in r}


def normalize(expr):
    return " ".join(expr.split())


# --- PromQL names -----------------------------------------------------------------

KEYWORDS = {"and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring",
            "group_left", "group_right", "inf", "nan", "atan2", "start", "end"}


def series_names(expr):
    """The metric names an expression reads: identifiers that are not
    functions, keywords, label names or parts of strings and durations."""
    text = re.sub(r'"(?:\\.|[^"\\])*"', '""', expr)       # strings
    text = re.sub(r"'(?:\\.|[^'\\])*'", "''", text)
    text = re.sub(r"\{[^}]*\}", " ", text)                 # label matchers
    text = re.sub(r"\[[^\]]*\]", " ", text)                # ranges
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    names = set()
    for m in re.finditer(r"[a-zA-Z_:][a-zA-Z0-9_:]*", text):
        word = m.group(0)
        rest = text[m.end():].lstrip()
        if word.lower() in KEYWORDS or rest.startswith("("):
            continue
        if re.fullmatch(r"[0-9]+[smhdwy]", word):
            continue
        names.add(word)
    return names


def exported_names(paths):
    names = set()
    for path in paths:
        with open(path) as f:
            for line in f:
                m = re.match(r"([a-zA-Z_:][a-zA-Z0-9_:]*)[{ ]", line)
                if m and not line.startswith("#"):
                    names.add(m.group(1))
    return names


# --- Cases -----------------------------------------------------------------------

def case_loads(source, args):
    dashboard = load(source)
    check(dashboard.get("uid") == "meshprobe", "uid is not meshprobe")
    check(dashboard.get("title"), "no title")
    check(dashboard.get("schemaVersion", 0) >= 36, "schemaVersion older than Grafana 9")
    names = variables(dashboard)
    check(names.get("datasource", {}).get("type") == "datasource" and
          names["datasource"].get("query") == "prometheus",
          "no datasource variable of type prometheus")
    ids = [p.get("id") for p in all_panels(dashboard)]
    check(len(ids) == len(set(ids)) and None not in ids, f"panel ids not unique: {ids}")
    cells = {}
    for panel in all_panels(dashboard):
        where = f"panel {panel.get('title')!r}"
        grid = panel.get("gridPos", {})
        if check({"x", "y", "w", "h"} <= set(grid), f"{where}: no gridPos"):
            check(0 <= grid["x"] and grid["x"] + grid["w"] <= 24, f"{where}: outside 24 columns")
            for x in range(grid["x"], grid["x"] + grid["w"]):
                for y in range(grid["y"], grid["y"] + grid["h"]):
                    check((x, y) not in cells, f"{where}: overlaps {cells.get((x, y))}")
                    cells[(x, y)] = where
        if panel.get("type") == "row":
            continue
        check(panel.get("datasource", {}).get("uid") == "${datasource}",
              f"{where}: not on the ${{datasource}} variable")
        check(panel.get("targets"), f"{where}: no queries")
        refs = [t.get("refId") for t in panel.get("targets", [])]
        check(len(refs) == len(set(refs)), f"{where}: duplicate refIds {refs}")
        for target in panel.get("targets", []):
            for m in VARIABLE.finditer(target.get("expr", "")):
                name = m.group(1) or m.group(2)
                check(name in names or name in BUILTINS, f"{where}: undefined variable ${name}")
    titles = [p.get("title", "") for p in all_panels(dashboard)]
    rows = [p.get("title") for p in all_panels(dashboard) if p.get("type") == "row"]
    check("Firewall regressions" in rows, "no Firewall regressions row")
    matrix = [p for p in all_panels(dashboard)
              if any(t.get("id") == "groupingToMatrix" and
                     {t["options"].get("rowField"), t["options"].get("columnField")} == {"node", "target"}
                     for t in p.get("transformations", []))]
    check(matrix, "no reachability matrix (a node x target groupingToMatrix table)")
    exprs = " ".join(e for _, e in expressions(dashboard))
    for needed, what in (("meshprobe_diagnosis", "diagnosis breakdown"),
                         ("meshprobe_phase_duration_seconds", "latency by phase"),
                         ("probe_ssl_earliest_cert_expiry", "certificate days left")):
        check(needed in exprs, f"no {what} ({needed})")
    check(titles, "no panels")


def case_promql(source, args):
    dashboard = load(source)
    found = list(expressions(dashboard))
    rules = {"groups": [{"name": "dashboard", "rules": [
        {"record": f"dashboard:expr_{i}", "expr": substitute(expr, dashboard)}
        for i, (_, expr) in enumerate(found)]}]}
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
        yaml.safe_dump(rules, f)
        path = f.name
    try:
        result = subprocess.run(["promtool", "check", "rules", path], capture_output=True, text=True)
    finally:
        os.unlink(path)
    if not check(result.returncode == 0, f"promtool check rules:\n{result.stdout}{result.stderr}"):
        for i, (where, expr) in enumerate(found):
            print(f"  dashboard:expr_{i} = {where}: {expr}")
    check(len(found) >= 20, f"only {len(found)} expressions found")


def case_alerts(source, args):
    dashboard = load(source)
    alerts = alert_expressions(load_rules(source))
    linked = 0
    for panel in all_panels(dashboard):
        m = re.search(r"alert (Meshprobe\w+)", panel.get("description", ""))
        if not m or panel.get("type") == "row" or "expression of alert" not in panel["description"]:
            continue
        linked += 1
        name = m.group(1)
        if check(name in alerts, f"panel {panel['title']!r}: no alert {name} in the rules"):
            exprs = [normalize(t["expr"]) for t in panel["targets"]]
            check(exprs == [normalize(alerts[name])],
                  f"panel {panel['title']!r}: the expression differs from alert {name}'s")
    check(linked >= 3, f"only {linked} panels show an alert's expression")


def kubernetes_mode_names(source):
    """Series only an agent connected to an API server exports: taken from
    the source that writes them, as no API server runs in the tests."""
    names = set()
    for writer in ("kube_metrics.cpp", "webhook_verdicts.cpp"):
        with open(os.path.join(source, "agent", "results", writer)) as f:
            names |= set(re.findall(r'"(meshprobe_[a-z_]+)"', f.read()))
    return names


def case_names(source, args):
    check(args, "names: pass /metrics scrapes")
    exported = exported_names(args) | kubernetes_mode_names(source)
    rules = load_rules(source)
    known = exported | recorded(rules) | {"up", "ALERTS", "ALERTS_FOR_STATE"}
    dashboard = load(source)
    uses = [(where, expr) for where, expr in expressions(dashboard)]
    uses += [(f"rule {r.get('alert') or r.get('record')}", r["expr"])
             for g in rules["groups"] for r in g["rules"]]
    for where, expr in uses:
        for name in sorted(series_names(expr)):
            check(name in known, f"{where}: reads {name}, which no agent exports "
                                 "and no rule records")
    print(f"{len(uses)} expressions, {len(exported)} exported series names")


def case_print_exprs(source, args):
    dashboard = load(source)
    for panel in all_panels(dashboard):
        for target in panel.get("targets", []):
            if "expr" in target:
                print(json.dumps(panel["title"]) + "\t" +
                      json.dumps(substitute(target["expr"], dashboard)))


CASES = {name[len("case_"):].replace("_", "-"): fn
         for name, fn in globals().items() if name.startswith("case_")}


def main():
    if len(sys.argv) < 3 or sys.argv[2] not in CASES:
        sys.exit(f"usage: {sys.argv[0]} SOURCE_DIR {{{'|'.join(CASES)}}} [ARGS]")
    CASES[sys.argv[2]](sys.argv[1], sys.argv[3:])
    if failures:
        print(f"FAIL [{sys.argv[2]}]:")
        for message in failures:
            print(f"  {message}")
        return 1
    if sys.argv[2] != "print-exprs":
        print(f"ok [{sys.argv[2]}]")
    return 0


if __name__ == "__main__":
    sys.exit(main())
