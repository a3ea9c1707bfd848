"""The emulated API server's admission chain, for dry-run creates.

kube-apiserver runs a create through the mutating webhooks, then the
validating ones (k8s.io/apiserver/pkg/admission/plugin/webhook). This does
the same against the emulator's state: it selects the webhooks whose rules,
namespaceSelector and objectSelector match, posts an admission.k8s.io/v1
AdmissionReview to each through `meshprobe-gopeer webhook-client` (Go's
net/http, as the API server calls webhooks: RootCAs = caBundle, ServerName =
SERVICE.NAMESPACE.svc, the URL naming the Service and the dial going to a
ready endpoint, as with --enable-aggregator-routing), applies the mutating
webhooks' JSONPatches, and answers what the API server answers: the object,
a webhook's denial, or the 500 of a failed call (unless failurePolicy is
Ignore).
"""

import base64
import datetime
import json
import os
import random
import string
import subprocess
import tempfile
import urllib.parse
import uuid

DEFAULT_TIMEOUT_SECONDS = 10  # admissionregistration.k8s.io/v1's default


class CallFailed(Exception):
    """webhookutil.ErrCallingWebhook: the call did not give a usable answer."""

    def __init__(self, webhook, reason):
        super().__init__('failed calling webhook "%s": %s' % (webhook, reason))


class Rejected(Exception):
    """webhookutil.ErrWebhookRejection: the webhook answered allowed: false."""

    def __init__(self, status_body):
        super().__init__(status_body["message"])
        self.status_body = status_body


def selector_matches(selector, labels):
    """A metav1.LabelSelector; absent or empty selects everything."""
    if not selector:
        return True
    labels = labels or {}
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expression in selector.get("matchExpressions") or []:
        key, operator = expression.get("key"), expression.get("operator")
        values = expression.get("values") or []
        if operator == "In" and labels.get(key) not in values:
            return False
        if operator == "NotIn" and key in labels and labels[key] in values:
            return False
        if operator == "Exists" and key not in labels:
            return False
        if operator == "DoesNotExist" and key in labels:
            return False
        if operator not in ("In", "NotIn", "Exists", "DoesNotExist"):
            return False
    return True


def _listed(value, items):
    return "*" in items or value in items


def rule_matches(rule, target, equivalent_versions):
    """One RuleWithOperations against a namespaced CREATE of target: the
    version the webhook sees it in, or None.

    With matchPolicy Equivalent (the default), a rule naming another version
    of the same resource matches too: the API server converts the object to
    that version (here the served versions share one schema).
    """
    if not _listed("CREATE", rule.get("operations") or []):
        return None
    if rule.get("scope", "*") not in ("*", "Namespaced"):
        return None
    if not _listed(target["group"], rule.get("apiGroups") or []):
        return None
    resources = rule.get("resources") or []
    if not (target["resource"] in resources or "*" in resources or "*/*" in resources):
        return None
    versions = rule.get("apiVersions") or []
    if _listed(target["version"], versions):
        return target["version"]
    for version in equivalent_versions:
        if version in versions:
            return version
    return None


def webhook_version(webhook, target, namespace_labels, obj, equivalent_versions):
    """The version the webhook is called with, or None when it is not selected."""
    versions = equivalent_versions if webhook.get("matchPolicy", "Equivalent") == "Equivalent" else ()
    matched = None
    for rule in webhook.get("rules") or []:
        matched = rule_matches(rule, target, versions)
        if matched:
            break
    if matched is None:
        return None
    if not selector_matches(webhook.get("namespaceSelector"), namespace_labels):
        return None
    if not selector_matches(webhook.get("objectSelector"), obj.get("metadata", {}).get("labels")):
        return None
    return matched


def _pointer_tokens(path):
    if path == "":
        return []
    if not path.startswith("/"):
        raise ValueError("invalid JSON pointer %r" % path)
    return [t.replace("~1", "/").replace("~0", "~") for t in path[1:].split("/")]


def apply_json_patch(document, operations):
    """RFC 6902 add, replace and remove (what istiod's injector sends)."""
    for operation in operations:
        op, tokens = operation.get("op"), _pointer_tokens(operation.get("path", ""))
        if not tokens:
            raise ValueError("a patch of the whole object is not supported")
        parent = document
        for token in tokens[:-1]:
            parent = parent[int(token)] if isinstance(parent, list) else parent[token]
        last = tokens[-1]
        if isinstance(parent, list):
            index = len(parent) if last == "-" else int(last)
            if op == "add":
                if index > len(parent):
                    raise ValueError("index %d out of range at %s" % (index, operation["path"]))
                parent.insert(index, operation["value"])
            elif op == "replace":
                parent[index] = operation["value"]
            elif op == "remove":
                del parent[index]
            else:
                raise ValueError("unsupported patch operation %r" % op)
        else:
            if op == "add":
                parent[last] = operation["value"]
            elif op in ("replace", "remove"):
                if last not in parent:
                    raise ValueError("%s: missing value at %s" % (op, operation["path"]))
                if op == "replace":
                    parent[last] = operation["value"]
                else:
                    del parent[last]
            else:
                raise ValueError("unsupported patch operation %r" % op)
    return document


def http_error_text(code, body, content_type):
    """client-go's error for a webhook's non-2xx answer (rest.Request's
    newUnstructuredResponseError and apierrors.NewGenericServerResponse):
    a Status body speaks for itself, otherwise a fixed text per code."""
    try:
        decoded = json.loads(body)
        if isinstance(decoded, dict) and decoded.get("kind") == "Status" and decoded.get("message"):
            return decoded["message"]
    except ValueError:
        pass
    media = content_type.split(";")[0].strip().lower()
    server_message = body.strip() if (not content_type or media.startswith("text/")) else "unknown"
    fixed = {
        400: "the server rejected our request for an unknown reason",
        401: "the server has asked for the client to provide credentials",
        403: server_message,
        404: "the server could not find the requested resource",
        405: "the server does not allow this method on the requested resource",
        409: "the server reported a conflict",
        415: server_message,
        422: "the server rejected our request due to an error in our request",
        429: "the server has received too many requests and has asked us to try again later",
        503: "the server is currently unable to handle the request",
        504: "the server was unable to return a response in the time allotted, but may still be processing the request",
    }
    if code == 406:
        if server_message in ("", "unknown"):
            return "the server was unable to respond with a content type that the client supports"
        return server_message
    if code in fixed:
        return fixed[code]
    if code >= 500:
        return 'an error on the server ("%s") has prevented the request from succeeding' % server_message
    return "the server responded with the status code %d but did not return more information" % code


def rejection_status(webhook_name, result):
    """webhookerrors.ToStatusErr: the webhook's own Status, made a failure."""
    result = dict(result or {})
    if int(result.get("code") or 0) < 400:
        result["code"] = 400
    if result.get("status") in (None, "", "Success"):
        result["status"] = "Failure"
    denied_by = 'admission webhook "%s" denied the request' % webhook_name
    if result.get("message"):
        result["message"] = "%s: %s" % (denied_by, result["message"])
    elif result.get("reason"):
        result["message"] = "%s: %s" % (denied_by, result["reason"])
    else:
        result["message"] = denied_by + " without explanation"
    body = {"kind": "Status", "apiVersion": "v1", "metadata": {}}
    body.update(result)
    return body


class AdmissionChain:
    """Dry-run creates through the state's webhooks.

    `objects(state, resource, namespace)` lists the state's objects,
    `status(code, reason, message, details)` makes a metav1.Status answer and
    `ready_endpoint(state, namespace, name, service_port)` finds a Service
    port's ready endpoint: the emulator's own helpers.
    """

    def __init__(self, gopeer, objects, status, ready_endpoint):
        self.gopeer = gopeer
        self.objects = objects
        self.status = status
        self.ready_endpoint = ready_endpoint

    def _find(self, state, resource, namespace, name):
        for obj in self.objects(state, resource, namespace):
            if obj.get("metadata", {}).get("name") == name:
                return obj
        return None

    def resolve_service(self, state, namespace, name, port):
        """The endpoint a webhook Service's port reaches: "IP:PORT", or raises
        the resolver's error (its text is what the dial fails with)."""
        service = self._find(state, "services", namespace, name)
        if service is None:
            raise LookupError('service "%s" not found' % name)
        chosen = None
        for service_port in service.get("spec", {}).get("ports", []) or []:
            if int(service_port.get("port", 0)) == port:
                chosen = service_port
        if chosen is None:
            raise LookupError('no service port %d found for service "%s"' % (port, name))
        endpoint = self.ready_endpoint(state, namespace, name, chosen)
        if endpoint is None:
            raise LookupError('no endpoints available for service "%s"' % name)
        return "%s:%d" % endpoint

    def call(self, state, webhook, review, timeout):
        """One POST of the review; the decoded AdmissionReview response, or
        raises CallFailed with the API server's reason text."""
        config = webhook.get("clientConfig", {})
        query = "timeout=%ds" % timeout  # rest.Request.Timeout, as the dispatcher sets it
        dial = None
        if config.get("service"):
            service = config["service"]
            namespace, name = service.get("namespace", ""), service.get("name", "")
            port = int(service.get("port") or 443)
            server_name = "%s.%s.svc" % (name, namespace)
            url = "https://%s:%d%s?%s" % (server_name, port, service.get("path") or "/", query)
            try:
                dial = self.resolve_service(state, namespace, name, port)
            except LookupError as e:
                # The resolver runs inside net/http's dial: its error is the dial's.
                raise CallFailed(webhook["name"], 'failed to call webhook: Post "%s": %s' % (url, e))
        else:
            url = config.get("url", "")
            parts = urllib.parse.urlsplit(url)
            url += ("&" if parts.query else "?") + query
            server_name = parts.hostname or ""
            if parts.hostname:
                dial = "%s:%d" % (parts.hostname, parts.port or 443)
        with tempfile.TemporaryDirectory(prefix="fake-admission-") as scratch:
            body_file = os.path.join(scratch, "review.json")
            with open(body_file, "w") as f:
                json.dump(review, f)
            argv = [self.gopeer, "webhook-client", "--url", url, "--server-name", server_name,
                    "--timeout", "%ds" % timeout, "--body", body_file]
            if dial:
                argv += ["--dial", dial]
                if dial in state.get("drop", []):
                    argv.append("--drop")
            if config.get("caBundle"):
                bundle_file = os.path.join(scratch, "ca.pem")
                with open(bundle_file, "wb") as f:
                    f.write(base64.b64decode(config["caBundle"]))
                argv += ["--ca-bundle", bundle_file]
            done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout + 10)
        if done.returncode != 0:
            raise RuntimeError("meshprobe-gopeer webhook-client failed: %s" % done.stderr.strip())
        answer = json.loads(done.stdout)
        if answer["error"]:
            raise CallFailed(webhook["name"], "failed to call webhook: " + answer["error"])
        code = answer["status"]
        if code < 200 or code > 206:
            raise CallFailed(webhook["name"], "failed to call webhook: " +
                             http_error_text(code, answer["body"], answer["content_type"]))
        try:
            response = json.loads(answer["body"])["response"]
        except (ValueError, KeyError, TypeError) as e:
            raise CallFailed(webhook["name"], "failed to call webhook: %s" % e)
        uid = review["request"]["uid"]
        if not isinstance(response, dict) or response.get("uid") != uid:
            got = response.get("uid", "") if isinstance(response, dict) else ""
            raise CallFailed(webhook["name"], 'received invalid webhook response: expected response.uid="%s", got "%s"'
                             % (uid, got))
        return response

    def review(self, webhook, target, version, namespace, obj, user, options):
        """The AdmissionReview of the create, the object in `version`."""
        versions = webhook.get("admissionReviewVersions") or ["v1"]
        api_version = "admission.k8s.io/v1" if "v1" in versions else "admission.k8s.io/v1beta1"

        def kind_and_resource(v):
            return ({"group": target["group"], "version": v, "kind": target["kind"]},
                    {"group": target["group"], "version": v, "resource": target["resource"]})

        group_version_kind, group_version_resource = kind_and_resource(version)
        request_kind, request_resource = kind_and_resource(target["version"])
        if version != target["version"]:
            obj = dict(obj, apiVersion=target["group"] + "/" + version)
        request = {
            "uid": str(uuid.uuid4()), "kind": group_version_kind, "resource": group_version_resource,
            "requestKind": request_kind, "requestResource": request_resource,
            "namespace": namespace, "operation": "CREATE",
            "userInfo": {"username": user, "groups": ["system:authenticated"]},
            "object": obj, "oldObject": None, "dryRun": True, "options": options,
        }
        name = obj.get("metadata", {}).get("name")
        if name:
            request["name"] = name
        return {"kind": "AdmissionReview", "apiVersion": api_version, "request": request}

    def run_webhook(self, state, webhook, target, version, namespace, obj, user, options, mutating):
        """One webhook: the (possibly patched) object, or raises."""
        if webhook.get("sideEffects") not in ("None", "NoneOnDryRun"):
            raise Rejected(dict(self.status(400, "BadRequest", 'admission webhook "%s" does not support dry run'
                                            % webhook["name"])[1]))
        timeout = int(webhook.get("timeoutSeconds") or DEFAULT_TIMEOUT_SECONDS)
        response = self.call(state, webhook, self.review(webhook, target, version, namespace, obj, user, options), timeout)
        if not response.get("allowed"):
            raise Rejected(rejection_status(webhook["name"], response.get("status") or response.get("result")))
        if not response.get("patch"):
            return obj
        if not mutating:
            raise CallFailed(webhook["name"], "received invalid webhook response: validating webhook may not return a patch")
        if response.get("patchType") != "JSONPatch":
            raise CallFailed(webhook["name"], 'unsupported patch type "%s"' % response.get("patchType", ""))
        try:
            operations = json.loads(base64.b64decode(response["patch"]))
        except ValueError as e:
            raise CallFailed(webhook["name"], "received undecodable patch in webhook response: %s" % e)
        return apply_json_patch(obj, operations)

    def create(self, state, target, namespace, obj, user, options, equivalent_versions=()):
        """The dry-run create's answer: (code, body)."""
        namespace_object = self._find(state, "namespaces", None, namespace) or {}
        namespace_labels = dict(namespace_object.get("metadata", {}).get("labels") or {})
        namespace_labels.setdefault("kubernetes.io/metadata.name", namespace)
        metadata = obj.setdefault("metadata", {})
        metadata["namespace"] = namespace
        if not metadata.get("name") and metadata.get("generateName"):
            suffix = "".join(random.choice(string.ascii_lowercase + string.digits) for _ in range(5))
            metadata["name"] = metadata["generateName"] + suffix
        for kind, mutating in (("mutatingwebhookconfigurations", True), ("validatingwebhookconfigurations", False)):
            configurations = sorted(self.objects(state, kind, None),
                                    key=lambda c: c.get("metadata", {}).get("name", ""))
            for configuration in configurations:
                for webhook in configuration.get("webhooks") or []:
                    version = webhook_version(webhook, target, namespace_labels, obj, equivalent_versions)
                    if version is None:
                        continue
                    try:
                        obj = self.run_webhook(state, webhook, target, version, namespace, obj, user, options,
                                               mutating)
                    except CallFailed as failure:
                        if webhook.get("failurePolicy", "Fail") == "Ignore":
                            continue
                        return self.status(500, "InternalError", "Internal error occurred: %s" % failure,
                                           {"causes": [{"message": str(failure)}]})
                    except Rejected as rejection:
                        return rejection.status_body["code"], rejection.status_body
                    except (ValueError, KeyError, IndexError, TypeError) as e:  # a patch that does not apply
                        return self.status(500, "InternalError", "Internal error occurred: %s" % e,
                                           {"causes": [{"message": str(e)}]})
        metadata = obj.setdefault("metadata", {})
        metadata["uid"] = str(uuid.uuid4())
        metadata["creationTimestamp"] = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        obj["apiVersion"] = (target["group"] + "/" if target["group"] else "") + target["version"]
        obj["kind"] = target["kind"]
        if target["resource"] == "pods":
            obj.setdefault("status", {"phase": "Pending", "qosClass": "BestEffort"})
        return 201, obj
