#!/usr/bin/env python3
"""Checks the Kubernetes manifests in deploy/ as they render: every overlay
and component combination, through kustomize_lite.py (and, where kubectl is
installed, through `kubectl kustomize` too).

    check_manifests.py SOURCE_DIR CASE [MESHPROBE]

SOURCE_DIR is the repository. Exit 0 pass, 1 fail, 77 skip. The cases:

  render      every variant renders; each object has apiVersion, kind,
              metadata.name (and a namespace where the kind is namespaced)
  schema      every field is one the Kubernetes (or Prometheus Operator) API
              has, with the right type: a typo fails here, not at apply time
  security    every agent pod runs non-root with a numeric user, no privilege
              escalation, all capabilities dropped, a read-only root
              filesystem, seccomp RuntimeDefault; no host paths, PID or IPC
  workload    /healthz and /readyz probes on port 9717, NODE_NAME from
              spec.nodeName, requests and limits, tolerations for every node,
              the config and each file it names under /etc/meshprobe mounted
              (root-cert.pem from istio-ca-root-cert), images pinned
  vantages    node vs control-plane overlays: host network only where meant,
              with ClusterFirstWithHostNet; each agent's config has its
              vantage; selectors do not overlap; Pod Security levels; the
              cluster-wide checks (API-server vantage, hygiene) only in the
              one-replica agent, never on every node
  monitoring  the Service and PodMonitor select the agents' named port; the
              PodMonitor's job is "meshprobe"; the PrometheusRule carries
              exactly deploy/prometheus/meshprobe.rules.yaml
  rbac        deploy/rbac.yaml binds the agents' ServiceAccount, read-only,
              no wildcards, no Secrets (skipped while the file is missing)
  configs     `meshprobe validate` accepts each rendered config.yaml
  kubectl     `kubectl kustomize` renders the same objects (skipped without
              kubectl: Debian 12 does not package it)
"""

import os
import shutil
import subprocess
import sys
import tempfile

import yaml

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kustomize_lite  # noqa: E402

SKIP = 77
PORT = 9717
UID = 65532
PLACEHOLDER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures",
                           "rbac-placeholder.yaml")

failures = []


def fail(message):
    failures.append(message)


def check(condition, message):
    if not condition:
        fail(message)
    return condition


# --- Variants --------------------------------------------------------------------

class Workspace:
    """Copies of deploy/ (with the RBAC placeholder while deploy/rbac.yaml
    does not exist) holding the combinations users make by editing a line:
    the top-level kustomization with either overlay and the Prometheus
    Operator component, an overlay with the host-network component, and
    the README's `images:` line."""

    def __init__(self, source):
        self.tmp = tempfile.mkdtemp(prefix="meshprobe-manifests-")
        self.source = os.path.join(source, "deploy")
        self.rbac_is_placeholder = not os.path.exists(os.path.join(self.source, "rbac.yaml"))
        shipped = self._copy("shipped")
        k = os.path.join(shipped, "kubernetes")
        self.variants = {
            "deploy/ as shipped": shipped,
            "overlays/node": os.path.join(k, "overlays", "node"),
            "overlays/control-plane": os.path.join(k, "overlays", "control-plane"),
            "deploy/ with overlays/node and every component but host-network":
                self._top("node", "kubernetes/overlays/node"),
            "deploy/ with overlays/control-plane, every component but host-network, images":
                self._top("control-plane", "kubernetes/overlays/control-plane", images=[
                    {"name": "registry.example.com/meshprobe",
                     "newName": "registry.internal:5000/mesh/meshprobe", "newTag": "0.1.0-rc1"}]),
            "overlays/node with host-network": self._overlay_variant(
                k, "node-host-network", ["../node"], ["../../components/host-network"]),
        }

    def _copy(self, name):
        target = os.path.join(self.tmp, name, "deploy")
        shutil.copytree(self.source, target)
        if self.rbac_is_placeholder:
            shutil.copy(PLACEHOLDER, os.path.join(target, "rbac.yaml"))
        return target

    def _top(self, name, overlay, images=None):
        """deploy/kustomization.yaml with its overlay line pointing at overlay,
        plus the prometheus-operator, kubernetes-mode and apiserver-vantage
        components. The rbac.yaml it includes
        must sit beside it, so each variant is a copy of its own."""
        root = self._copy(f"top-{name}")
        path = os.path.join(root, "kustomization.yaml")
        with open(path) as f:
            kustomization = yaml.safe_load(f)
        resources = kustomization["resources"]
        if not check("kubernetes/overlays/node" in resources,
                     "deploy/kustomization.yaml: expected the line `- kubernetes/overlays/node` "
                     "that users switch to kubernetes/overlays/control-plane"):
            return root
        resources[resources.index("kubernetes/overlays/node")] = overlay
        kustomization["components"] = ["kubernetes/components/prometheus-operator",
                                       "kubernetes/components/kubernetes-mode",
                                       "kubernetes/components/apiserver-vantage"]
        if images:
            kustomization["images"] = images
        with open(path, "w") as f:
            yaml.safe_dump(kustomization, f)
        return root

    @staticmethod
    def _overlay_variant(kubernetes_dir, name, resources, components):
        directory = os.path.join(kubernetes_dir, "overlays", f"_variant-{name}")
        os.makedirs(directory)
        with open(os.path.join(directory, "kustomization.yaml"), "w") as f:
            yaml.safe_dump({"apiVersion": "kustomize.config.k8s.io/v1beta1",
                            "kind": "Kustomization", "resources": resources,
                            "components": components}, f)
        return directory

    def render_all(self):
        rendered = {}
        for name, directory in self.variants.items():
            try:
                rendered[name] = kustomize_lite.render(directory)
            except (kustomize_lite.KustomizeError, OSError, yaml.YAMLError) as e:
                fail(f"{name}: does not render: {e}")
        return rendered

    def close(self):
        shutil.rmtree(self.tmp, ignore_errors=True)


# --- A small schema of the API fields deploy/ may use ------------------------------
# Types: "str", "int", "bool", "int|str", "quantity", "map" (string to string),
# "any", a dict (an object: field -> type) or a one-element list (a list of it).

META = {"name": "str", "namespace": "str", "labels": "map", "annotations": "map"}
SECCOMP = {"type": "str", "localhostProfile": "str"}
KEY_TO_PATH = [{"key": "str", "path": "str", "mode": "int"}]
PROBE = {
    "httpGet": {"path": "str", "port": "int|str", "scheme": "str", "host": "str",
                "httpHeaders": "any"},
    "tcpSocket": {"port": "int|str", "host": "str"},
    "exec": {"command": ["str"]},
    "grpc": {"port": "int", "service": "str"},
    "initialDelaySeconds": "int", "periodSeconds": "int", "timeoutSeconds": "int",
    "failureThreshold": "int", "successThreshold": "int",
    "terminationGracePeriodSeconds": "int",
}
CONTAINER = {
    "name": "str", "image": "str", "imagePullPolicy": "str", "command": ["str"],
    "args": ["str"], "workingDir": "str",
    "env": [{"name": "str", "value": "str", "valueFrom": {
        "fieldRef": {"fieldPath": "str", "apiVersion": "str"},
        "resourceFieldRef": {"resource": "str", "containerName": "str", "divisor": "quantity"},
        "configMapKeyRef": {"name": "str", "key": "str", "optional": "bool"},
        "secretKeyRef": {"name": "str", "key": "str", "optional": "bool"}}}],
    "envFrom": "any",
    "ports": [{"name": "str", "containerPort": "int", "protocol": "str", "hostPort": "int",
               "hostIP": "str"}],
    "livenessProbe": PROBE, "readinessProbe": PROBE, "startupProbe": PROBE,
    "resources": {"requests": {"cpu": "quantity", "memory": "quantity",
                               "ephemeral-storage": "quantity"},
                  "limits": {"cpu": "quantity", "memory": "quantity",
                             "ephemeral-storage": "quantity"}},
    "securityContext": {"runAsNonRoot": "bool", "runAsUser": "int", "runAsGroup": "int",
                        "allowPrivilegeEscalation": "bool", "readOnlyRootFilesystem": "bool",
                        "privileged": "bool", "procMount": "str",
                        "capabilities": {"add": ["str"], "drop": ["str"]},
                        "seccompProfile": SECCOMP},
    "volumeMounts": [{"name": "str", "mountPath": "str", "readOnly": "bool", "subPath": "str"}],
    "terminationMessagePolicy": "str", "terminationMessagePath": "str",
}
POD_SPEC = {
    "serviceAccountName": "str", "automountServiceAccountToken": "bool",
    "enableServiceLinks": "bool", "terminationGracePeriodSeconds": "int",
    "priorityClassName": "str", "restartPolicy": "str",
    "hostNetwork": "bool", "hostPID": "bool", "hostIPC": "bool", "dnsPolicy": "str",
    "dnsConfig": "any", "nodeSelector": "map", "affinity": "any",
    "imagePullSecrets": [{"name": "str"}],
    "tolerations": [{"key": "str", "operator": "str", "value": "str", "effect": "str",
                     "tolerationSeconds": "int"}],
    "securityContext": {"runAsNonRoot": "bool", "runAsUser": "int", "runAsGroup": "int",
                        "fsGroup": "int", "fsGroupChangePolicy": "str",
                        "supplementalGroups": ["int"], "seccompProfile": SECCOMP,
                        "sysctls": "any"},
    "containers": [CONTAINER], "initContainers": [CONTAINER],
    "volumes": [{"name": "str",
                 "projected": {"defaultMode": "int", "sources": [{
                     "configMap": {"name": "str", "items": KEY_TO_PATH, "optional": "bool"},
                     "secret": {"name": "str", "items": KEY_TO_PATH, "optional": "bool"},
                     "serviceAccountToken": {"audience": "str", "expirationSeconds": "int",
                                             "path": "str"},
                     "downwardAPI": "any"}]},
                 "configMap": {"name": "str", "items": KEY_TO_PATH, "optional": "bool",
                               "defaultMode": "int"},
                 "emptyDir": {"medium": "str", "sizeLimit": "quantity"},
                 "hostPath": {"path": "str", "type": "str"}}],
}
RULES = [{"apiGroups": ["str"], "resources": ["str"], "verbs": ["str"],
          "resourceNames": ["str"], "nonResourceURLs": ["str"]}]
BINDING = {"roleRef": {"apiGroup": "str", "kind": "str", "name": "str"},
           "subjects": [{"kind": "str", "name": "str", "namespace": "str", "apiGroup": "str"}]}

KINDS = {
    # kind: (apiVersion, namespaced, top-level fields besides apiVersion/kind/metadata)
    "Namespace": ("v1", False, {}),
    "ServiceAccount": ("v1", True, {"automountServiceAccountToken": "bool",
                                    "imagePullSecrets": [{"name": "str"}]}),
    "ConfigMap": ("v1", True, {"data": "map", "immutable": "bool"}),
    "Service": ("v1", True, {"spec": {
        "type": "str", "clusterIP": "str", "selector": "map", "publishNotReadyAddresses": "bool",
        "internalTrafficPolicy": "str", "ipFamilyPolicy": "str", "ipFamilies": ["str"],
        "ports": [{"name": "str", "port": "int", "targetPort": "int|str", "protocol": "str",
                   "appProtocol": "str"}]}}),
    "DaemonSet": ("apps/v1", True, {"spec": {
        "selector": {"matchLabels": "map", "matchExpressions": "any"},
        "template": {"metadata": META, "spec": POD_SPEC},
        "updateStrategy": {"type": "str", "rollingUpdate": {"maxUnavailable": "int|str",
                                                            "maxSurge": "int|str"}},
        "minReadySeconds": "int", "revisionHistoryLimit": "int"}}),
    "Deployment": ("apps/v1", True, {"spec": {
        "replicas": "int",
        "selector": {"matchLabels": "map", "matchExpressions": "any"},
        "template": {"metadata": META, "spec": POD_SPEC},
        "strategy": {"type": "str", "rollingUpdate": {"maxUnavailable": "int|str",
                                                      "maxSurge": "int|str"}},
        "minReadySeconds": "int", "revisionHistoryLimit": "int",
        "progressDeadlineSeconds": "int"}}),
    "ClusterRole": ("rbac.authorization.k8s.io/v1", False, {"rules": RULES,
                                                           "aggregationRule": "any"}),
    "Role": ("rbac.authorization.k8s.io/v1", True, {"rules": RULES}),
    "ClusterRoleBinding": ("rbac.authorization.k8s.io/v1", False, BINDING),
    "RoleBinding": ("rbac.authorization.k8s.io/v1", True, BINDING),
    "PodMonitor": ("monitoring.coreos.com/v1", True, {"spec": {
        "jobLabel": "str", "podTargetLabels": ["str"],
        "selector": {"matchLabels": "map", "matchExpressions": "any"},
        "namespaceSelector": {"any": "bool", "matchNames": ["str"]},
        "podMetricsEndpoints": [{"port": "str", "path": "str", "interval": "str",
                                 "scrapeTimeout": "str", "scheme": "str", "honorLabels": "bool",
                                 "relabelings": "any", "metricRelabelings": "any"}]}}),
    "PrometheusRule": ("monitoring.coreos.com/v1", True, {"spec": {"groups": [{
        "name": "str", "interval": "str", "rules": [{
            "record": "str", "alert": "str", "expr": "str", "for": "str",
            "labels": "map", "annotations": "map"}]}]}}),
}

QUANTITY = r"^[0-9]+(\.[0-9]+)?(m|k|M|G|T|Ki|Mi|Gi|Ti)?$"


def check_type(where, value, schema):
    import re
    if schema == "any":
        return
    if isinstance(schema, dict):
        if not check(isinstance(value, dict), f"{where}: expected an object, got {value!r}"):
            return
        for key, item in value.items():
            if check(key in schema, f"{where}: unknown field {key!r}"):
                check_type(f"{where}.{key}", item, schema[key])
    elif isinstance(schema, list):
        if check(isinstance(value, list), f"{where}: expected a list, got {value!r}"):
            for i, item in enumerate(value):
                check_type(f"{where}[{i}]", item, schema[0])
    elif schema == "str":
        check(isinstance(value, str), f"{where}: expected a string, got {value!r}")
    elif schema == "int":
        check(isinstance(value, int) and not isinstance(value, bool),
              f"{where}: expected an integer, got {value!r}")
    elif schema == "bool":
        check(isinstance(value, bool), f"{where}: expected true or false, got {value!r}")
    elif schema == "int|str":
        check(isinstance(value, (int, str)) and not isinstance(value, bool),
              f"{where}: expected an integer or a name, got {value!r}")
    elif schema == "quantity":
        check(isinstance(value, str) and re.match(QUANTITY, value),
              f"{where}: expected a quantity such as 10m or 32Mi, got {value!r}")
    elif schema == "map":
        check(isinstance(value, dict) and all(isinstance(k, str) and isinstance(v, str)
                                              for k, v in value.items()),
              f"{where}: expected a map of strings, got {value!r}")
    else:
        raise AssertionError(f"bad schema {schema!r}")


def name_of(obj):
    meta = obj.get("metadata", {})
    return f"{obj.get('kind')}/{meta.get('name')}"


def all_objects(rendered):
    """Every distinct object of every variant (the same object rendered by
    several variants is checked once)."""
    seen = {}
    for objects in rendered.values():
        for obj in objects:
            seen.setdefault(yaml.safe_dump(obj, sort_keys=True), obj)
    return list(seen.values())


def daemonsets(objects):
    return [o for o in objects if o.get("kind") == "DaemonSet"]


def workloads(objects):
    """The agents: the DaemonSets and the cluster-wide Deployment."""
    return [o for o in objects if o.get("kind") in ("DaemonSet", "Deployment")]


def config_maps(objects):
    return {o["metadata"]["name"]: o for o in objects if o.get("kind") == "ConfigMap"}


def agent_config(objects, daemonset):
    """The config.yaml a DaemonSet mounts, parsed, or None."""
    maps = config_maps(objects)
    for volume in daemonset["spec"]["template"]["spec"].get("volumes", []):
        for source in volume.get("projected", {}).get("sources", []):
            ref = source.get("configMap", {})
            if any(item.get("path") == "config.yaml" for item in ref.get("items", [])):
                cm = maps.get(ref["name"])
                if cm is None:
                    return None
                return yaml.safe_load(cm["data"]["config.yaml"])
    return None


# --- Cases -----------------------------------------------------------------------

def case_render(rendered, workspace, args):
    for variant, objects in rendered.items():
        check(objects, f"{variant}: renders nothing")
        for obj in objects:
            where = f"{variant}: {name_of(obj)}"
            check(obj.get("apiVersion"), f"{where}: no apiVersion")
            check(obj.get("kind"), f"{where}: no kind")
            check(obj.get("metadata", {}).get("name"), f"{where}: no metadata.name")
            spec = KINDS.get(obj.get("kind"))
            if spec and spec[1]:
                check(obj["metadata"].get("namespace"), f"{where}: namespaced, but no namespace")
        kinds = {o.get("kind") for o in objects}
        for needed in ("Namespace", "ConfigMap", "Service", "DaemonSet"):
            check(needed in kinds, f"{variant}: no {needed}")
        if variant.startswith("deploy/"):
            # What users apply: the ServiceAccount the DaemonSets run as
            # (rbac.yaml) is there, in their namespace, with its RBAC.
            check(kinds & {"ClusterRole", "Role"}, f"{variant}: no RBAC (rbac.yaml)")
            accounts = {(o["metadata"].get("namespace"), o["metadata"]["name"])
                        for o in objects if o.get("kind") == "ServiceAccount"}
            for ds in workloads(objects):
                account = (ds["metadata"]["namespace"],
                           ds["spec"]["template"]["spec"].get("serviceAccountName", "default"))
                check(account in accounts, f"{variant}: {name_of(ds)} runs as ServiceAccount "
                                           f"{account[0]}/{account[1]}, which is not created")
        if "prometheus-operator" in variant:
            check({"PodMonitor", "PrometheusRule"} <= kinds,
                  f"{variant}: no PodMonitor and PrometheusRule")


def case_schema(rendered, workspace, args):
    for obj in all_objects(rendered):
        kind = obj.get("kind")
        if not check(kind in KINDS, f"{name_of(obj)}: kind {kind} is not in the schema "
                                    "(add it to test/deploy/check_manifests.py)"):
            continue
        api_version, _, fields = KINDS[kind]
        check(obj.get("apiVersion") == api_version,
              f"{name_of(obj)}: apiVersion {obj.get('apiVersion')}, expected {api_version}")
        schema = {"apiVersion": "str", "kind": "str", "metadata": META, **fields}
        check_type(name_of(obj), obj, schema)


def case_security(rendered, workspace, args):
    for ds in workloads(all_objects(rendered)):
        where = name_of(ds)
        pod = ds["spec"]["template"]["spec"]
        psc = pod.get("securityContext", {})
        check(psc.get("runAsNonRoot") is True, f"{where}: pod runAsNonRoot is not true")
        check(psc.get("seccompProfile", {}).get("type") == "RuntimeDefault",
              f"{where}: pod seccompProfile is not RuntimeDefault")
        for flag in ("hostPID", "hostIPC"):
            check(not pod.get(flag), f"{where}: {flag} is set")
        for volume in pod.get("volumes", []):
            check("hostPath" not in volume, f"{where}: hostPath volume {volume['name']}")
        for c in pod["containers"]:
            cw = f"{where} container {c['name']}"
            sc = c.get("securityContext")
            if not check(sc, f"{cw}: no securityContext"):
                continue
            check(sc.get("runAsNonRoot") is True, f"{cw}: runAsNonRoot is not true")
            user = sc.get("runAsUser", psc.get("runAsUser"))
            check(isinstance(user, int) and user > 0, f"{cw}: runAsUser {user!r} is not a "
                                                      "numeric non-root user")
            check(user == UID, f"{cw}: runAsUser {user} is not the image's user {UID}")
            check(sc.get("readOnlyRootFilesystem") is True, f"{cw}: root filesystem writable")
            check(sc.get("allowPrivilegeEscalation") is False,
                  f"{cw}: allowPrivilegeEscalation is not false")
            check(not sc.get("privileged"), f"{cw}: privileged")
            check(sc.get("capabilities", {}).get("drop") == ["ALL"],
                  f"{cw}: capabilities do not drop ALL")
            check(not sc.get("capabilities", {}).get("add"), f"{cw}: adds capabilities")
            check(sc.get("seccompProfile", psc.get("seccompProfile", {})).get("type")
                  == "RuntimeDefault", f"{cw}: seccompProfile is not RuntimeDefault")


def resolve_port(container, port):
    if isinstance(port, int):
        return port
    for p in container.get("ports", []):
        if p.get("name") == port:
            return p.get("containerPort")
    return None


def case_workload(rendered, workspace, args):
    import re
    objects = all_objects(rendered)
    for ds in workloads(objects):
        where = name_of(ds)
        pod = ds["spec"]["template"]["spec"]
        check(ds["spec"]["selector"]["matchLabels"].items()
              <= ds["spec"]["template"]["metadata"]["labels"].items(),
              f"{where}: the selector does not match the pod template's labels")
        if ds["kind"] == "DaemonSet":
            check({"operator": "Exists"} in pod.get("tolerations", []),
                  f"{where}: no `operator: Exists` toleration: tainted nodes would go unwatched")
        else:
            check(ds["spec"].get("replicas") == 1, f"{where}: the cluster-wide agent is not one replica")
        check(pod.get("serviceAccountName") == "meshprobe", f"{where}: not ServiceAccount meshprobe")
        containers = pod["containers"]
        check(len(containers) == 1, f"{where}: expected one container")
        c = containers[0]
        cw = f"{where} container {c['name']}"
        image = c.get("image", "")
        name_part = image.rsplit("/", 1)[-1]
        check("@sha256:" in image or ":" in name_part, f"{cw}: image {image!r} has no tag")
        check(not image.endswith(":latest"), f"{cw}: image {image!r} is :latest")
        check(c.get("imagePullPolicy") != "Always" or "@sha256:" in image,
              f"{cw}: imagePullPolicy Always with a tag")
        check(c.get("args", [])[:1] == ["agent"] and "/etc/meshprobe/config.yaml" in c.get("args", []),
              f"{cw}: args {c.get('args')} do not run the agent on /etc/meshprobe/config.yaml")
        for kind, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
            probe = c.get(kind, {}).get("httpGet")
            if check(probe, f"{cw}: no {kind} (httpGet)"):
                check(probe.get("path") == path, f"{cw}: {kind} path {probe.get('path')}, expected {path}")
                check(resolve_port(c, probe.get("port")) == PORT,
                      f"{cw}: {kind} port {probe.get('port')} is not {PORT}")
        check(any(p.get("containerPort") == PORT and p.get("name") == "http-metrics"
                  for p in c.get("ports", [])), f"{cw}: no port http-metrics {PORT}")
        node_name = [e for e in c.get("env", []) if e.get("name") == "NODE_NAME"]
        check(node_name and node_name[0].get("valueFrom", {}).get("fieldRef", {}).get("fieldPath")
              == "spec.nodeName", f"{cw}: NODE_NAME does not come from fieldRef spec.nodeName")
        resources = c.get("resources", {})
        for bound in ("requests", "limits"):
            for resource in ("cpu", "memory"):
                check(resource in resources.get(bound, {}), f"{cw}: no {bound}.{resource}")

        def amount(q):
            m = re.match(r"^([0-9.]+)(m|Ki|Mi|Gi)?$", q)
            scale = {"m": 0.001, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, None: 1}[m.group(2)]
            return float(m.group(1)) * scale
        for resource in ("cpu", "memory"):
            try:
                check(amount(resources["requests"][resource]) <= amount(resources["limits"][resource]),
                      f"{cw}: {resource} request above its limit")
            except (KeyError, AttributeError):
                pass
        # /etc/meshprobe holds config.yaml (our ConfigMap) and every file the
        # config names there: root-cert.pem is istiod's istio-ca-root-cert.
        mounts = {m["name"]: m for m in c.get("volumeMounts", [])}
        volumes = {v["name"]: v for v in pod.get("volumes", [])}
        etc = [n for n, m in mounts.items() if m["mountPath"] == "/etc/meshprobe"]
        files = {}
        if check(etc, f"{cw}: nothing mounted at /etc/meshprobe"):
            check(mounts[etc[0]].get("readOnly") is True, f"{cw}: /etc/meshprobe not read-only")
            sources = volumes.get(etc[0], {}).get("projected", {}).get("sources", [])
            files = {item["path"]: (s["configMap"]["name"], item["key"])
                     for s in sources if "configMap" in s for item in s["configMap"].get("items", [])}
            check("config.yaml" in files and files["config.yaml"][0] in config_maps(objects),
                  f"{cw}: config.yaml does not come from a ConfigMap of the same render")
            if "root-cert.pem" in files:
                check(files["root-cert.pem"] == ("istio-ca-root-cert", "root-cert.pem"),
                      f"{cw}: root-cert.pem is not istio-ca-root-cert's root-cert.pem")
        config = agent_config(objects, ds)
        if check(config, f"{where}: its config.yaml cannot be found"):
            for name, bundle in (config.get("ca_bundles") or {}).items():
                path = bundle.get("file", "")
                if path.startswith("/etc/meshprobe/"):
                    check(path[len("/etc/meshprobe/"):] in files,
                          f"{where}: CA bundle {name} names {path}, which is not mounted")
            check(config.get("listen", "").endswith(f":{PORT}"), f"{where}: config listens on "
                                                                 f"{config.get('listen')}, not :{PORT}")
            check(config.get("node_name_env") == "NODE_NAME",
                  f"{where}: config does not take the node name from NODE_NAME")


def case_vantages(rendered, workspace, args):
    def find(variant):
        return rendered.get(variant, [])

    def namespace_level(objects):
        # The agents' namespace: not the admission targets' canary namespace.
        ns = [o for o in objects if o["kind"] == "Namespace" and o["metadata"]["name"] == "meshprobe"]
        return ns[0]["metadata"].get("labels", {}).get("pod-security.kubernetes.io/enforce") if ns else None

    for variant, objects in rendered.items():
        for ds in workloads(objects):
            where = f"{variant}: {name_of(ds)}"
            pod = ds["spec"]["template"]["spec"]
            component = ds["spec"]["template"]["metadata"]["labels"].get("app.kubernetes.io/component")
            config = agent_config(objects, ds) or {}
            check(config.get("vantage") == component,
                  f"{where}: config vantage {config.get('vantage')!r} but component {component!r}")
            if pod.get("hostNetwork"):
                check(pod.get("dnsPolicy") == "ClusterFirstWithHostNet",
                      f"{where}: hostNetwork without dnsPolicy ClusterFirstWithHostNet "
                      "(cluster names would not resolve)")
                check(namespace_level(objects) == "privileged",
                      f"{where}: hostNetwork in a namespace enforcing "
                      f"{namespace_level(objects)!r}: Pod Security would refuse the pods")
            else:
                check(pod.get("dnsPolicy", "ClusterFirst") == "ClusterFirst",
                      f"{where}: dnsPolicy {pod.get('dnsPolicy')} without hostNetwork")
        selectors = [tuple(sorted(d["spec"]["selector"]["matchLabels"].items()))
                     for d in workloads(objects)]
        check(len(set(selectors)) == len(selectors), f"{variant}: workload selectors overlap")

    node = find("overlays/node")
    check([d["metadata"]["name"] for d in daemonsets(node)] == ["meshprobe"],
          "overlays/node: expected exactly the DaemonSet meshprobe")
    check(all(not d["spec"]["template"]["spec"].get("hostNetwork") for d in daemonsets(node)),
          "overlays/node: uses the host network")
    check(namespace_level(node) == "restricted", "overlays/node: namespace not Pod Security restricted")

    cp = {d["metadata"]["name"]: d for d in daemonsets(find("overlays/control-plane"))}
    check(sorted(cp) == ["meshprobe", "meshprobe-control-plane"],
          f"overlays/control-plane: DaemonSets {sorted(cp)}, expected meshprobe and "
          "meshprobe-control-plane")
    if "meshprobe-control-plane" in cp:
        pod = cp["meshprobe-control-plane"]["spec"]["template"]["spec"]
        check(pod.get("hostNetwork") is True, "meshprobe-control-plane: not in the host network")
        check(pod.get("nodeSelector") == {"node-role.kubernetes.io/control-plane": ""},
              "meshprobe-control-plane: not restricted to control-plane nodes")
    if "meshprobe" in cp:
        check(not cp["meshprobe"]["spec"]["template"]["spec"].get("hostNetwork"),
              "overlays/control-plane: the node DaemonSet uses the host network")

    # What is the same from every node runs once per cluster: the API
    # server vantage and the hygiene checks only in the one-replica agent.
    full = find("deploy/ with overlays/node and every component but host-network")
    deployments = [o for o in full if o["kind"] == "Deployment"]
    check([d["metadata"]["name"] for d in deployments] == ["meshprobe-apiserver"],
          "components/apiserver-vantage: expected the Deployment meshprobe-apiserver")
    for agent in workloads(full):
        config = agent_config(full, agent) or {}
        kubernetes = config.get("kubernetes")
        via_apiserver = [t["name"] for t in config.get("targets", []) if t.get("via") == "apiserver"]
        if agent["kind"] == "Deployment":
            check(kubernetes is not None and kubernetes.get("hygiene", True) is True and via_apiserver,
                  f"{name_of(agent)}: not the API-server vantage with the hygiene checks")
        else:
            check(kubernetes is not None, f"{name_of(agent)}: components/kubernetes-mode did not "
                                          "switch the node agents to Kubernetes mode")
            check(kubernetes is None or kubernetes.get("hygiene", True) is False,
                  f"{name_of(agent)}: every node would run the cluster-wide hygiene checks")
            check(not via_apiserver, f"{name_of(agent)}: every node would probe through the API "
                                     f"server ({via_apiserver})")

    host = daemonsets(find("overlays/node with host-network"))
    check(host and all(d["spec"]["template"]["spec"].get("hostNetwork") is True and
                       d["spec"]["template"]["spec"].get("dnsPolicy") == "ClusterFirstWithHostNet"
                       for d in host),
          "components/host-network: does not set hostNetwork with ClusterFirstWithHostNet")


def case_monitoring(rendered, workspace, args):
    source = os.path.dirname(workspace.source)
    for variant, objects in rendered.items():
        pods = [(d["spec"]["template"]["metadata"]["labels"], d["spec"]["template"]["spec"])
                for d in workloads(objects)]

        def selected(selector):
            return [spec for labels, spec in pods if selector.items() <= labels.items()]

        def has_port(spec, name):
            return any(p.get("name") == name for c in spec["containers"] for p in c.get("ports", []))

        for svc in (o for o in objects if o["kind"] == "Service"):
            chosen = selected(svc["spec"].get("selector", {}))
            check(len(chosen) == len(pods) and pods,
                  f"{variant}: Service {svc['metadata']['name']} does not select every agent")
            for port in svc["spec"]["ports"]:
                check(all(has_port(s, port["targetPort"]) for s in chosen),
                      f"{variant}: Service port {port['targetPort']} is not an agent port")
        for pm in (o for o in objects if o["kind"] == "PodMonitor"):
            chosen = selected(pm["spec"]["selector"]["matchLabels"])
            check(len(chosen) == len(pods), f"{variant}: the PodMonitor misses agents")
            for endpoint in pm["spec"]["podMetricsEndpoints"]:
                check(all(has_port(s, endpoint["port"]) for s in chosen),
                      f"{variant}: PodMonitor port {endpoint['port']} is not an agent port")
                check(endpoint.get("path", "/metrics") == "/metrics",
                      f"{variant}: PodMonitor path is not /metrics")
            job_label = pm["spec"].get("jobLabel")
            check(all(labels.get(job_label) == "meshprobe" for labels, _ in pods),
                  f"{variant}: the PodMonitor's job (pod label {job_label!r}) is not "
                  "\"meshprobe\", the job the alert rules expect")
        # The plain Prometheus scrape config finds the same pods and port.
        with open(os.path.join(source, "deploy", "prometheus", "scrape-config.yaml")) as f:
            scrape = yaml.safe_load(f)
        jobs = {j["job_name"]: j for j in scrape["scrape_configs"]}
        if check("meshprobe" in jobs, "scrape-config.yaml: no job meshprobe"):
            job = jobs["meshprobe"]
            namespaces = {d["metadata"]["namespace"] for d in workloads(objects)}
            for sd in job.get("kubernetes_sd_configs", []):
                check(sd.get("role") == "pod", "scrape-config.yaml: discovery role is not pod")
                check(namespaces <= set(sd.get("namespaces", {}).get("names", [])),
                      f"scrape-config.yaml: does not look in namespaces {sorted(namespaces)}")
                for selector in sd.get("selectors", []):
                    key, _, value = selector.get("label", "").partition("=")
                    check(all(labels.get(key) == value for labels, _ in pods),
                          f"scrape-config.yaml: selector {selector.get('label')} misses agents")
            keeps = [r for r in job.get("relabel_configs", [])
                     if r.get("action") == "keep" and
                     r.get("source_labels") == ["__meta_kubernetes_pod_container_port_name"]]
            check(keeps and all(has_port(s, keeps[0]["regex"]) for _, s in pods),
                  "scrape-config.yaml: does not keep the agents' metrics port by name")
        for rule in (o for o in objects if o["kind"] == "PrometheusRule"):
            with open(os.path.join(source, "deploy", "prometheus", "meshprobe.rules.yaml")) as f:
                rules = yaml.safe_load(f)
            check(rule["spec"] == rules, f"{variant}: the PrometheusRule differs from "
                                         "deploy/prometheus/meshprobe.rules.yaml (run "
                                         "deploy/prometheus/render-prometheusrule.sh)")


def case_rbac(rendered, workspace, args):
    if workspace.rbac_is_placeholder:
        print("SKIP: deploy/rbac.yaml does not exist yet (rendered with "
              "test/deploy/fixtures/rbac-placeholder.yaml)")
        return SKIP
    with open(os.path.join(workspace.source, "rbac.yaml")) as f:
        objects = [o for o in yaml.safe_load_all(f) if o]
    bindings = [o for o in objects if o.get("kind") in ("RoleBinding", "ClusterRoleBinding")]
    check(bindings, "rbac.yaml: no bindings")
    for b in bindings:
        check({"kind": "ServiceAccount", "name": "meshprobe", "namespace": "meshprobe"}
              in [{k: s.get(k) for k in ("kind", "name", "namespace")} for s in b.get("subjects", [])],
              f"rbac.yaml: {name_of(b)} does not bind ServiceAccount meshprobe/meshprobe")
        roles = {(o["kind"], o["metadata"]["name"]) for o in objects}
        check((b["roleRef"]["kind"], b["roleRef"]["name"]) in roles,
              f"rbac.yaml: {name_of(b)} refers to {b['roleRef']['kind']} "
              f"{b['roleRef']['name']}, which rbac.yaml does not define")
    for role in (o for o in objects if o.get("kind") in ("Role", "ClusterRole")):
        for rule in role.get("rules", []):
            where = f"rbac.yaml: {name_of(role)}"
            for field in ("apiGroups", "resources", "verbs"):
                check("*" not in rule.get(field, []), f"{where}: wildcard in {field}")
            check(set(rule.get("verbs", [])) <= {"get", "list", "watch"},
                  f"{where}: verbs {rule.get('verbs')} go beyond get/list/watch")
            check("secrets" not in rule.get("resources", []), f"{where}: reads Secrets")
    # The webhook verdicts' control-plane context: one node's providerID
    # (cluster-scoped) and the kubernetes Service's slices, in default only.
    def granted(kind, namespace, resource, verb):
        return any(o.get("kind") == kind and o["metadata"].get("namespace") == namespace
                   and resource in rule.get("resources", []) and verb in rule.get("verbs", [])
                   for o in objects for rule in o.get("rules", []))
    check(granted("ClusterRole", None, "nodes", "list"),
          "rbac.yaml: the ClusterRole does not grant list on nodes (the verdicts' platform)")
    check(granted("Role", "default", "endpointslices", "list"),
          "rbac.yaml: no Role in default grants list on endpointslices (the API server's "
          "addresses)")
    bound = {(b["roleRef"]["kind"], b["roleRef"]["name"], b["metadata"].get("namespace"))
             for b in bindings}
    for role in (o for o in objects if o.get("kind") == "Role"):
        check(("Role", role["metadata"]["name"], role["metadata"]["namespace"]) in bound,
              f"rbac.yaml: {name_of(role)} in {role['metadata']['namespace']} is not bound "
              "in its namespace")


def case_admission(rendered, workspace, args):
    """The apiserver-vantage component's admission targets: their canary
    namespace is shipped labelled for injection, and their RBAC is `create`
    of pods and Gateways in it, nothing more."""
    full = next((objects for variant, objects in rendered.items()
                 if "every component but host-network" in variant), None)
    if not check(full is not None, "admission: no variant with the apiserver-vantage component"):
        return
    deployment = [o for o in full if o["kind"] == "Deployment"]
    config = agent_config(full, deployment[0]) if deployment else None
    targets = [t for t in (config or {}).get("targets", []) if "admission" in t]
    check(sorted(t["admission"] for t in targets) == ["inject", "validate"],
          "components/apiserver-vantage: expected an inject and a validate admission target")
    namespaces = {o["metadata"]["name"]: o for o in full if o["kind"] == "Namespace"}
    for target in targets:
        ns = target.get("namespace", "meshprobe-canary")
        if not check(ns in namespaces, f"admission target {target.get('name')}: its namespace "
                                       f"{ns} is not shipped"):
            continue
        labels = namespaces[ns]["metadata"].get("labels", {})
        check(labels.get("istio-injection") == "enabled" or "istio.io/rev" in labels,
              f"Namespace {ns}: not labelled for injection (istio-injection or istio.io/rev)")
    roles = [o for o in full if o["kind"] == "Role" and o["metadata"]["name"] == "meshprobe-dry-run"]
    check(len(roles) == 1, "components/apiserver-vantage: expected the Role meshprobe-dry-run")
    for role in roles:
        check(role["metadata"].get("namespace") == "meshprobe-canary",
              "Role meshprobe-dry-run: not in the canary namespace")
        for rule in role.get("rules", []):
            check(rule.get("verbs") == ["create"], f"Role meshprobe-dry-run: verbs {rule.get('verbs')}")
            check(set(rule.get("resources", [])) <= {"pods", "gateways"},
                  f"Role meshprobe-dry-run: resources {rule.get('resources')}")
    bindings = [o for o in full if o["kind"] == "RoleBinding"
                and o["roleRef"]["name"] == "meshprobe-dry-run"]
    check(any({"kind": "ServiceAccount", "name": "meshprobe", "namespace": "meshprobe"}
              in [{k: s.get(k) for k in ("kind", "name", "namespace")} for s in b.get("subjects", [])]
              for b in bindings),
          "RoleBinding meshprobe-dry-run: does not bind ServiceAccount meshprobe/meshprobe")


def case_configs(rendered, workspace, args):
    if not args:
        fail("configs: pass the meshprobe binary")
        return
    meshprobe = args[0]
    tmp = tempfile.mkdtemp(prefix="meshprobe-configs-", dir=workspace.tmp)
    # The configs name /etc/meshprobe/root-cert.pem, which `validate` opens:
    # stand in any PEM certificate and point the paths at it.
    shutil.copy("/etc/ssl/certs/ca-certificates.crt", os.path.join(tmp, "root-cert.pem"))
    done = set()
    for variant, objects in rendered.items():
        for cm in config_maps(objects).values():
            text = cm.get("data", {}).get("config.yaml")
            if text is None or text in done:
                continue
            done.add(text)
            path = os.path.join(tmp, f"{cm['metadata']['name']}.yaml")
            with open(path, "w") as f:
                f.write(text.replace("/etc/meshprobe/", tmp + "/"))
            result = subprocess.run([meshprobe, "validate", path], capture_output=True, text=True)
            check(result.returncode == 0, f"{variant}: ConfigMap {cm['metadata']['name']}: "
                                          f"meshprobe validate: {result.stderr.strip()}")
    check(len(done) >= 4, "configs: expected the node (static and Kubernetes mode), "
                          "control-plane and apiserver configs")


def case_kubectl(rendered, workspace, args):
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        print("SKIP: kubectl is not installed (Debian 12 does not package it); "
              "kustomize_lite.py rendered the variants alone")
        return SKIP
    for variant, directory in workspace.variants.items():
        result = subprocess.run([kubectl, "kustomize", directory], capture_output=True, text=True)
        if not check(result.returncode == 0, f"{variant}: kubectl kustomize: {result.stderr.strip()}"):
            continue
        theirs = {kustomize_lite.object_id(o): o for o in yaml.safe_load_all(result.stdout) if o}
        ours = {kustomize_lite.object_id(o): o for o in rendered.get(variant, [])}
        check(set(theirs) == set(ours), f"{variant}: kubectl renders {sorted(map(str, theirs))}, "
                                        f"kustomize_lite {sorted(map(str, ours))}")
        for key in set(theirs) & set(ours):
            check(theirs[key] == ours[key], f"{variant}: {key} differs:\n--- kubectl\n"
                  f"{yaml.safe_dump(theirs[key])}--- kustomize_lite\n{yaml.safe_dump(ours[key])}")


CASES = {name[len("case_"):]: fn for name, fn in globals().items() if name.startswith("case_")}


def main():
    if len(sys.argv) < 3 or sys.argv[2] not in CASES:
        sys.exit(f"usage: {sys.argv[0]} SOURCE_DIR {{{'|'.join(CASES)}}} [MESHPROBE]")
    workspace = Workspace(sys.argv[1])
    try:
        rendered = workspace.render_all()
        if failures:
            # Nothing to check on a variant that does not render.
            status = None
        else:
            status = CASES[sys.argv[2]](rendered, workspace, sys.argv[3:])
    finally:
        workspace.close()
    if failures:
        print(f"FAIL [{sys.argv[2]}]:")
        for message in dict.fromkeys(failures):  # once each, in order
            print(f"  {message}")
        return 1
    if status == SKIP:
        return SKIP
    print(f"ok [{sys.argv[2]}]: {len(rendered)} variants")
    return 0


if __name__ == "__main__":
    sys.exit(main())
