"""A small kustomize renderer: exactly the features deploy/ uses, so the
manifests can be rendered and checked on machines without kustomize (Debian
12 packages none). Anything it does not know is an error, never ignored.
Where kubectl is installed, check_manifests.py also compares its output with
`kubectl kustomize`.

Supported: resources (files and directories), components,
configMapGenerator (files; behavior create/replace; disableNameSuffixHash
only), patches (inline JSON 6902 — add, replace, remove, test — with a
kind/name target) and images (newName, newTag, digest).
"""

import copy
import os

import yaml

KUSTOMIZATION_KEYS = {"apiVersion", "kind", "resources", "components", "configMapGenerator",
                      "patches", "images"}
IMAGE_KEYS = {"name", "newName", "newTag", "digest"}
GENERATOR_KEYS = {"name", "namespace", "behavior", "files", "options"}
GENERATOR_OPTION_KEYS = {"disableNameSuffixHash", "labels"}
PATCH_KEYS = {"target", "patch"}
TARGET_KEYS = {"kind", "name"}

# kustomize's "legacy" output order, for the kinds deploy/ has.
KIND_ORDER = ["Namespace", "ServiceAccount", "Role", "ClusterRole", "RoleBinding",
              "ClusterRoleBinding", "ConfigMap", "Service", "DaemonSet"]


class KustomizeError(Exception):
    pass


def load_yaml_documents(path):
    with open(path, encoding="utf-8") as f:
        return [doc for doc in yaml.safe_load_all(f) if doc is not None]


def kustomization_file(directory):
    for name in ("kustomization.yaml", "kustomization.yml", "Kustomization"):
        path = os.path.join(directory, name)
        if os.path.isfile(path):
            return path
    raise KustomizeError(f"{directory}: no kustomization.yaml")


def object_id(obj):
    meta = obj.get("metadata", {})
    return (obj.get("kind"), meta.get("namespace"), meta.get("name"))


# --- JSON 6902 -------------------------------------------------------------------

def _pointer(path):
    if not path.startswith("/"):
        raise KustomizeError(f"JSON pointer must start with '/': {path}")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _walk(doc, parts):
    node = doc
    for part in parts[:-1]:
        if isinstance(node, list):
            node = node[int(part)]
        elif part in node:
            node = node[part]
        else:
            raise KustomizeError(f"path element {part!r} does not exist")
    return node, parts[-1]


def apply_json6902(doc, operations):
    for op in operations:
        if not isinstance(op, dict) or "op" not in op or "path" not in op:
            raise KustomizeError(f"malformed JSON patch operation {op!r}")
        try:
            _apply_operation(doc, op)
        except (IndexError, KeyError, TypeError, ValueError) as e:
            raise KustomizeError(f"{op['op']} {op['path']}: {e!r}") from None


def _apply_operation(doc, op):
    kind = op["op"]
    needs_value = kind in ("add", "replace", "test")
    if needs_value and "value" not in op:
        raise KustomizeError(f"{kind} {op['path']}: no value")
    parent, key = _walk(doc, _pointer(op["path"]))
    if kind == "add":
        if isinstance(parent, list):
            index = len(parent) if key == "-" else int(key)
            parent.insert(index, copy.deepcopy(op["value"]))
        else:
            parent[key] = copy.deepcopy(op["value"])
    elif kind == "replace":
        if isinstance(parent, list):
            parent[int(key)] = copy.deepcopy(op["value"])
        elif key not in parent:
            raise KustomizeError(f"replace: {op['path']} does not exist")
        else:
            parent[key] = copy.deepcopy(op["value"])
    elif kind == "test":
        actual = parent[int(key)] if isinstance(parent, list) else parent.get(key)
        if actual != op["value"]:
            raise KustomizeError(f"test: {op['path']} is {actual!r}, not {op['value']!r}")
    elif kind == "remove":
        if isinstance(parent, list):
            del parent[int(key)]
        elif key not in parent:
            raise KustomizeError(f"remove: {op['path']} does not exist")
        else:
            del parent[key]
    else:
        raise KustomizeError(f"unsupported JSON patch op {kind!r}")


# --- Rendering -------------------------------------------------------------------

def _check_keys(what, mapping, allowed):
    unknown = set(mapping) - allowed
    if unknown:
        raise KustomizeError(f"{what}: unsupported keys {sorted(unknown)} "
                             "(extend test/deploy/kustomize_lite.py)")


def _generate(directory, spec, resources):
    _check_keys(f"{directory}: configMapGenerator", spec, GENERATOR_KEYS)
    options = spec.get("options", {})
    _check_keys(f"{directory}: generator options", options, GENERATOR_OPTION_KEYS)
    if not options.get("disableNameSuffixHash"):
        raise KustomizeError(f"{directory}: {spec['name']}: name hashing is not supported")
    data = {}
    for entry in spec.get("files", []):
        key, _, path = entry.rpartition("=") if "=" in entry else (None, None, entry)
        key = key or os.path.basename(path)
        full = os.path.normpath(os.path.join(directory, path))
        if not full.startswith(os.path.normpath(directory) + os.sep):
            raise KustomizeError(f"{directory}: {path} is outside the kustomization")
        with open(full, encoding="utf-8") as f:
            data[key] = f.read()
    config_map = {"apiVersion": "v1", "kind": "ConfigMap",
                  "metadata": {"name": spec["name"]}, "data": data}
    if "namespace" in spec:
        config_map["metadata"]["namespace"] = spec["namespace"]
    if options.get("labels"):
        config_map["metadata"]["labels"] = dict(options["labels"])
    behavior = spec.get("behavior", "create")
    matches = [i for i, r in enumerate(resources) if object_id(r) == object_id(config_map)]
    if behavior == "create":
        if matches:
            raise KustomizeError(f"{directory}: ConfigMap {spec['name']} exists already")
        resources.append(config_map)
    elif behavior == "replace":
        if len(matches) != 1:
            raise KustomizeError(f"{directory}: replace: no ConfigMap {spec['name']} to replace")
        resources[matches[0]] = config_map
    else:
        raise KustomizeError(f"{directory}: unsupported behavior {behavior!r}")


def _patch(directory, spec, resources):
    _check_keys(f"{directory}: patch", spec, PATCH_KEYS)
    target = spec.get("target")
    if not target or "kind" not in target:
        raise KustomizeError(f"{directory}: patches need a target with a kind")
    _check_keys(f"{directory}: patch target", target, TARGET_KEYS)
    operations = yaml.safe_load(spec["patch"])
    if not isinstance(operations, list):
        raise KustomizeError(f"{directory}: only JSON 6902 patches (a list of ops) are supported")
    hits = 0
    for obj in resources:
        if obj.get("kind") != target["kind"]:
            continue
        if "name" in target and obj["metadata"]["name"] != target["name"]:
            continue
        apply_json6902(obj, operations)
        hits += 1
    if hits == 0:
        raise KustomizeError(f"{directory}: patch target {target} matches nothing")


def _render(directory, expected_kind, stack):
    directory = os.path.abspath(directory)
    if directory in stack:
        raise KustomizeError(f"{directory}: kustomization cycle")
    path = kustomization_file(directory)
    with open(path, encoding="utf-8") as f:
        kustomization = yaml.safe_load(f) or {}
    _check_keys(path, kustomization, KUSTOMIZATION_KEYS)
    kind = kustomization.get("kind", "Kustomization")
    if kind != expected_kind:
        raise KustomizeError(f"{path}: kind {kind}, expected {expected_kind}")

    resources = []
    for entry in kustomization.get("resources", []):
        full = os.path.join(directory, entry)
        if os.path.isdir(full):
            resources.extend(_render(full, "Kustomization", stack + [directory]))
        elif os.path.isfile(full):
            if not os.path.normpath(full).startswith(directory + os.sep):
                raise KustomizeError(f"{path}: file {entry} is outside the kustomization "
                                     "(kustomize refuses it)")
            resources.extend(load_yaml_documents(full))
        else:
            raise KustomizeError(f"{path}: resource {entry} does not exist")

    for entry in kustomization.get("components", []):
        _apply_component(os.path.join(directory, entry), resources, stack + [directory])

    _transform(directory, kustomization, resources)
    return resources


def _apply_component(directory, resources, stack):
    """A Component's resources join the parent's, and its generators and
    patches then apply to everything the parent has gathered so far."""
    directory = os.path.abspath(directory)
    path = kustomization_file(directory)
    with open(path, encoding="utf-8") as f:
        component = yaml.safe_load(f) or {}
    _check_keys(path, component, KUSTOMIZATION_KEYS)
    if component.get("kind") != "Component":
        raise KustomizeError(f"{path}: expected kind Component")
    for entry in component.get("resources", []):
        full = os.path.join(directory, entry)
        if not os.path.isfile(full):
            raise KustomizeError(f"{path}: resource {entry} is not a file")
        resources.extend(load_yaml_documents(full))
    for entry in component.get("components", []):
        _apply_component(os.path.join(directory, entry), resources, stack + [directory])
    _transform(directory, component, resources)


def _split_image(image):
    """name, tag, digest of an image reference (the tag after the last
    colon of the last path element)."""
    name, _, digest = image.partition("@")
    last = name.rsplit("/", 1)[-1]
    tag = None
    if ":" in last:
        name, tag = name.rsplit(":", 1)
    return name, tag, digest or None


def _images(directory, specs, resources):
    for spec in specs:
        _check_keys(f"{directory}: images", spec, IMAGE_KEYS)
        for obj in resources:
            pod = obj.get("spec", {}).get("template", {}).get("spec")
            if pod is None:
                continue
            for container in pod.get("containers", []) + pod.get("initContainers", []):
                name, tag, digest = _split_image(container["image"])
                if name != spec["name"]:
                    continue
                name = spec.get("newName", name)
                if "digest" in spec:
                    container["image"] = f"{name}@{spec['digest']}"
                    continue
                tag = spec.get("newTag", tag)
                container["image"] = name + (f":{tag}" if tag else "") + (f"@{digest}" if digest else "")


def _transform(directory, kustomization, resources):
    for spec in kustomization.get("configMapGenerator", []):
        _generate(directory, spec, resources)
    for spec in kustomization.get("patches", []):
        _patch(directory, spec, resources)
    _images(directory, kustomization.get("images", []), resources)


def render(directory):
    """Renders the kustomization in directory: a list of objects, in
    kustomize's legacy kind order (then by namespace and name)."""
    resources = _render(directory, "Kustomization", [])
    seen = set()
    for obj in resources:
        key = object_id(obj)
        if key in seen:
            raise KustomizeError(f"{directory}: duplicate object {key}")
        seen.add(key)

    def order(obj):
        kind = obj.get("kind", "")
        rank = KIND_ORDER.index(kind) if kind in KIND_ORDER else len(KIND_ORDER)
        meta = obj.get("metadata", {})
        return (rank, kind, meta.get("namespace") or "", meta.get("name") or "")
    return sorted(resources, key=order)


if __name__ == "__main__":
    import sys
    if len(sys.argv) != 2:
        sys.exit("usage: kustomize_lite.py DIR")
    try:
        objects = render(sys.argv[1])
    except KustomizeError as e:
        sys.exit(f"kustomize_lite: {e}")
    yaml.safe_dump_all(objects, sys.stdout, sort_keys=False)
