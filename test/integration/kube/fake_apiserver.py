#!/usr/bin/env python3
"""An emulated Kubernetes API server for meshprobe's tests.

No API server runs in the test environment, so this serves the real API's
paths and JSON shapes (admissionregistration.k8s.io/v1, core/v1,
discovery.k8s.io/v1, metav1.Status) over HTTPS on 127.0.0.1:

  GET /apis/admissionregistration.k8s.io/v1/{mutating,validating}webhookconfigurations[/NAME]
  GET /api/v1/namespaces[?fieldSelector=metadata.name=NS]  (field selectors on any list)
  GET /api/v1/{events,pods}[?fieldSelector=reason=FailedCreate|labelSelector=...]  (all namespaces)
  GET /api/v1/namespaces/NS/{events,pods}  (paged like every list)
  POST /api/v1/namespaces  (the one real create: `check --create-canary`; the state file gains it)
  GET /api/v1/namespaces/NS/services[/NAME]
  GET /apis/discovery.k8s.io/v1/namespaces/NS/endpointslices?labelSelector=kubernetes.io/service-name=NAME
  GET /api/v1/namespaces/NS/configmaps/NAME
  GET /api/v1/nodes[?limit=N]  (spec.providerID names the platform: gce://, aws:///, azure:///)
  GET /api/v1/namespaces/NS/services/SCHEME:NAME:PORT/proxy/PATH
  GET /api/v1/namespaces/NS/pods/SCHEME:NAME:PORT/proxy/PATH
  POST /api/v1/namespaces/NS/pods?dryRun=All[&fieldManager=...]
  POST /apis/networking.istio.io/{v1,v1beta1,v1alpha3}/namespaces/NS/gateways?dryRun=All

with bearer-token (or client-certificate) authentication (401 otherwise),
403 for resources the state forbids, 404 NotFound, pagination with
`limit`/`continue`, and the proxy subresources: they really dial the
endpoint (TLS, without verification, as the API server's proxy does) and
pass its answer through, or answer the API server's own error shapes
(503 "error trying to reach service: dial tcp IP:PORT: i/o timeout" /
"...: connect: connection refused", "no endpoints available for service").

The POSTs are dry-run creates through kube-apiserver's admission chain
(fake_admission.py): the mutating, then the validating webhooks whose rules,
namespaceSelector and objectSelector match are called over HTTPS by
`meshprobe-gopeer webhook-client` (--gopeer; Go's net/http, trust = the
caBundle, server name SERVICE.NAMESPACE.svc, the dial going to a ready
endpoint of the Service), JSONPatches applied; the answer is the object
(201, with uid and creationTimestamp, never stored), a webhook's denial, or
the 500 "Internal error occurred: failed calling webhook ..." (failurePolicy
Fail). 403 uses the `forbidden` entries with verb "create"; a namespace
that is not in the state is 404; a POST without dryRun=All is refused
(400, and a line on stderr): nothing is ever persisted (but a namespace
created with POST /api/v1/namespaces, which the state file gains). The request log
holds one {"method","path","query","auth","status"} object per request.

Every list path also watches (`watch=true`): HTTP/1.1 chunked, one
WatchEvent per line ({"type": "ADDED|MODIFIED|DELETED|BOOKMARK|ERROR",
"object": ...}), as kube-apiserver streams them. Each object carries
metadata.resourceVersion (the global version of its last change; the global
version grows by one per changed object whenever the state file changes, and
a list's metadata.resourceVersion is the current one). `resourceVersion=RV`
streams the changes after RV; an RV older than the first version (or than
the state's "compacted_rv") answers an ERROR event with a 410 Expired Status
("too old resource version"). `allowWatchBookmarks=true` adds a BOOKMARK
every "bookmark_interval" seconds (1); `timeoutSeconds=N` ends the stream
after N seconds. State keys for tests: "drop_watches": true closes open
streams abruptly (no final chunk); "silent_watches": true sends nothing
(not even bookmarks) while set. A watch is in the request log when it
starts.

The cluster lives in a JSON state file, read again whenever it changes, so a
test swaps a caBundle between two reads by rewriting it:

  {"token": "T", "user": "system:serviceaccount:meshprobe:meshprobe",
   "forbidden": [{"verb": "get", "resource": "configmaps", "namespace": "istio-system"}],
   "absent_kinds": ["validatingwebhookconfigurations"],  # not served: 404, as for a
                             # kind the cluster's API version lacks
   "mutatingwebhookconfigurations": [...], "validatingwebhookconfigurations": [...],
   "namespaces": [...], "services": [...], "endpointslices": [...],
   "configmaps": [...], "pods": [...], "events": [...], "nodes": [...],
   "drop": ["IP:PORT"],      # the proxy's dial to it times out; a webhook's dial to
                             # it gets no answer until the webhook's timeoutSeconds
   "dial_timeout": 2.0,      # seconds, the proxy's; the real API server waits about 30
   "faults": [{"path": "/api/v1/namespaces", "status": 503, "times": 2}]}

Usage: fake_apiserver.py --state FILE --cert PEM --key PEM --port-file FILE
                         [--listen ADDRESS] [--port PORT] [--client-ca PEM] [--log FILE]
                         [--gopeer meshprobe-gopeer]

--port defaults to 0 (a free port, written to --port-file); the lab binds 443,
where a cluster's API server endpoint listens.
"""

import argparse
import base64
import http.server
import json
import os
import socket
import ssl
import sys
import threading
import time
import urllib.parse

import fake_admission

LIST_KINDS = {
    "mutatingwebhookconfigurations": ("admissionregistration.k8s.io/v1", "MutatingWebhookConfiguration"),
    "validatingwebhookconfigurations": ("admissionregistration.k8s.io/v1", "ValidatingWebhookConfiguration"),
    "namespaces": ("v1", "Namespace"),
    "services": ("v1", "Service"),
    "endpointslices": ("discovery.k8s.io/v1", "EndpointSlice"),
    "configmaps": ("v1", "ConfigMap"),
    "pods": ("v1", "Pod"),
    "events": ("v1", "Event"),
    "nodes": ("v1", "Node"),
}
GROUPS = {
    "mutatingwebhookconfigurations": "admissionregistration.k8s.io",
    "validatingwebhookconfigurations": "admissionregistration.k8s.io",
    "endpointslices": "discovery.k8s.io",
    "gateways": "networking.istio.io",
}
# The served versions of networking.istio.io's Gateway: one resource, so a
# webhook rule naming one version matches the others (matchPolicy Equivalent).
GATEWAY_VERSIONS = ("v1", "v1beta1", "v1alpha3")


class State:
    """The state file, reloaded when it changes; faults are consumed in memory."""

    def __init__(self, path):
        self.path = path
        self.lock = threading.Lock()
        self.stamp = None
        self.data = {}
        self.faults = []
        # The global resourceVersion: it grows by one on every change of an
        # object; each object carries the version of its last change.
        self.rv = None
        self.first_rv = None
        self.versions = {}  # (resource, namespace, name) -> (rv, object as written)
        self.history = []   # (rv, resource, "ADDED"|"MODIFIED"|"DELETED", object)
        self.changed = threading.Condition(self.lock)
        self.versions_started = False

    def get(self):
        with self.lock:
            st = os.stat(self.path)
            stamp = (st.st_ino, st.st_mtime_ns, st.st_size)
            if stamp != self.stamp:
                with open(self.path) as f:
                    data = json.load(f)
                self.faults = [dict(fault) for fault in data.get("faults", [])]
                self.stamp = stamp
                self.data = self.versioned(data)
                self.changed.notify_all()
            return self.data

    def versioned(self, data):
        """Stamps metadata.resourceVersion on every object and records the
        changes since the last read as watch events (called under the lock)."""
        if self.rv is None:
            self.rv = int(data.get("resourceVersion", "1000"))
            self.first_rv = self.rv
        seen = set()
        for resource in LIST_KINDS:
            for obj in data.get(resource, []):
                meta = obj.setdefault("metadata", {})
                key = (resource, meta.get("namespace"), meta.get("name"))
                seen.add(key)
                written = json.dumps(obj, sort_keys=True)
                known = self.versions.get(key)
                if known is None or known[1] != written:
                    # The first read's objects all stand at the first version.
                    if self.versions_started:
                        self.rv += 1
                    self.versions[key] = (self.rv, written)
                    meta["resourceVersion"] = str(self.rv)
                    if self.versions_started:
                        event = "MODIFIED" if known is not None else "ADDED"
                        self.history.append((self.rv, resource, event, json.loads(json.dumps(obj))))
                else:
                    meta["resourceVersion"] = str(known[0])
        for key in [k for k in self.versions if k not in seen]:
            written = json.loads(self.versions.pop(key)[1])
            self.rv += 1
            written.setdefault("metadata", {})["resourceVersion"] = str(self.rv)
            self.history.append((self.rv, key[0], "DELETED", written))
        self.versions_started = True
        data["resourceVersion"] = str(self.rv)
        return data

    def events_after(self, rv, resource):
        """The recorded changes of `resource` after `rv` (call under the lock)."""
        return [(v, kind, obj) for v, r, kind, obj in self.history if v > rv and r == resource]

    def add(self, resource, obj):
        """A real create (only namespaces, for `check --create-canary`): the
        state file gains the object, so the test sees what was created."""
        with self.lock:
            with open(self.path) as f:
                data = json.load(f)
            data.setdefault(resource, []).append(obj)
            tmp = self.path + ".created"
            with open(tmp, "w") as f:
                json.dump(data, f)
            os.replace(tmp, self.path)

    def take_fault(self, path):
        with self.lock:
            for fault in self.faults:
                if path.startswith(fault["path"]) and fault.get("times", 1) > 0:
                    fault["times"] = fault.get("times", 1) - 1
                    return fault
        return None


def status(code, reason, message, details=None):
    body = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message, "reason": reason, "code": code}
    if details is not None:
        body["details"] = details
    return code, body


def qualified(resource):
    group = GROUPS.get(resource, "")
    return resource + "." + group if group else resource


def not_found(resource, name):
    details = {"name": name, "kind": resource}
    if resource in GROUPS:
        details["group"] = GROUPS[resource]
    return status(404, "NotFound", '%s "%s" not found' % (qualified(resource), name), details)


def forbidden(state, verb, resource, namespace, name):
    user = state.get("user", "system:serviceaccount:meshprobe:meshprobe")
    base = resource.split("/")[0]
    group = GROUPS.get(base, "")
    subject = qualified(base) + (' "%s"' % name if name else "")
    scope = ('in the namespace "%s"' % namespace) if namespace else "at the cluster scope"
    message = '%s is forbidden: User "%s" cannot %s resource "%s" in API group "%s" %s' % (
        subject, user, verb, resource, group, scope)
    details = {"kind": base}
    if name:
        details["name"] = name
    if group:
        details["group"] = group
    return status(403, "Forbidden", message, details)


def is_forbidden(state, verb, resource, namespace):
    for rule in state.get("forbidden", []):
        if rule.get("resource") != resource:
            continue
        if rule.get("verb", verb) != verb:
            continue
        if rule.get("namespace", namespace) != namespace:
            continue
        return True
    return False


def objects(state, resource, namespace):
    items = state.get(resource, [])
    if namespace is None:
        return items
    return [o for o in items if o.get("metadata", {}).get("namespace") == namespace]


def matches_selector(obj, selector):
    labels = obj.get("metadata", {}).get("labels", {}) or {}
    for term in filter(None, selector.split(",")):
        key, _, value = term.partition("=")
        if labels.get(key) != value:
            return False
    return True


def field_value(obj, path):
    """A field selector's dotted path (metadata.name, involvedObject.kind) in obj."""
    value = obj
    for part in path.split("."):
        if not isinstance(value, dict):
            return ""
        value = value.get(part, "")
    return value if isinstance(value, str) else str(value)


def matches_field_selector(obj, selector):
    """`a=b`, `a==b`, `a!=b`, comma-separated, as the API's field selectors."""
    for term in filter(None, selector.split(",")):
        if "!=" in term:
            key, _, value = term.partition("!=")
            if field_value(obj, key) == value:
                return False
            continue
        key, _, value = term.partition("=")
        if field_value(obj, key) != value.lstrip("="):
            return False
    return True


def list_response(state, resource, namespace, query):
    items = objects(state, resource, namespace)
    if "labelSelector" in query:
        items = [o for o in items if matches_selector(o, query["labelSelector"])]
    if "fieldSelector" in query:
        items = [o for o in items if matches_field_selector(o, query["fieldSelector"])]
    start = 0
    if query.get("continue"):
        try:
            start = int(base64.b64decode(query["continue"]).decode())
        except Exception:
            return status(400, "BadRequest", "invalid continue token")
        if state.get("expire_continue"):
            return status(410, "Expired", "The provided continue parameter is too old")
    meta = {"resourceVersion": str(state.get("resourceVersion", "1000"))}
    page = items[start:]
    if query.get("limit"):
        limit = int(query["limit"])
        page = items[start:start + limit]
        if start + limit < len(items):
            meta["continue"] = base64.b64encode(str(start + limit).encode()).decode()
            meta["remainingItemCount"] = len(items) - start - limit
    api_version, kind = LIST_KINDS[resource]
    return 200, {"kind": kind + "List", "apiVersion": api_version, "metadata": meta, "items": page}


def single(state, resource, namespace, name):
    for obj in objects(state, resource, namespace):
        if obj.get("metadata", {}).get("name") == name:
            api_version, kind = LIST_KINDS[resource]
            return 200, dict(obj, kind=kind, apiVersion=api_version)
    return not_found(resource, name)


def find(state, resource, namespace, name):
    for obj in objects(state, resource, namespace):
        if obj.get("metadata", {}).get("name") == name:
            return obj
    return None


def dial(state, ip, port, path, timeout):
    """The proxy's round trip to an endpoint: (status, body, content type) or an error string."""
    address = "%s:%d" % (ip, port)
    forced = state.get("proxy_errors", {}).get(address)
    if forced:
        return forced
    if address in state.get("drop", []):
        time.sleep(timeout)
        return "dial tcp %s: i/o timeout" % address
    try:
        raw = socket.create_connection((ip, port), timeout=timeout)
    except ConnectionRefusedError:
        return "dial tcp %s: connect: connection refused" % address
    except socket.timeout:
        return "dial tcp %s: i/o timeout" % address
    except OSError as e:
        return "dial tcp %s: connect: %s" % (address, e.strerror.lower() if e.strerror else e)
    # The API server's proxy does not verify the backend's certificate.
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:
        with context.wrap_socket(raw, server_hostname=ip) as tls:
            tls.settimeout(timeout)
            tls.sendall(("GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n" % (path, address)).encode())
            data = b""
            while True:
                chunk = tls.recv(65536)
                if not chunk:
                    break
                data += chunk
    except socket.timeout:
        return "net/http: timeout awaiting response headers"
    except ssl.SSLError as e:
        return "remote error: tls: %s" % (e.reason or "handshake failure").lower().replace("_", " ")
    except OSError as e:
        return "read tcp %s: %s" % (address, e)
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    try:
        code = int(lines[0].split()[1])
    except (IndexError, ValueError):
        return "malformed HTTP response %r" % lines[0]
    content_type = "text/plain"
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-type":
            content_type = value.strip()
    return code, body, content_type


def proxy_error(message):
    return status(503, "ServiceUnavailable", "error trying to reach service: " + message)


def service_proxy(state, namespace, ref, rest):
    scheme, name, port = (ref.split(":") + ["", ""])[:3] if ":" in ref else ("", ref, "")
    service = find(state, "services", namespace, name)
    if service is None:
        return not_found("services", name)
    ports = service.get("spec", {}).get("ports", [])
    chosen = None
    for p in ports:
        if port in ("", p.get("name", ""), str(p.get("port"))):
            chosen = p
            break
    if chosen is None:
        if port.isdigit():
            return status(503, "ServiceUnavailable",
                          'no service port %s found for service "%s"' % (port, name))
        return status(503, "ServiceUnavailable",
                      'no service port "%s" found for service "%s"' % (port, name))
    endpoint = ready_endpoint(state, namespace, name, chosen)
    if endpoint is None:
        return status(503, "ServiceUnavailable", 'no endpoints available for service "%s"' % name)
    return forward(state, endpoint[0], endpoint[1], rest)


def ready_endpoint(state, namespace, name, service_port):
    """The first ready endpoint behind a Service port, as (IP, port): the
    slice port named like the Service port. None when there is none (the
    API server's `no endpoints available for service`)."""
    for slice_ in objects(state, "endpointslices", namespace):
        if not matches_selector(slice_, "kubernetes.io/service-name=" + name):
            continue
        target = None
        for p in slice_.get("ports", []) or []:
            if p.get("name", "") == service_port.get("name", ""):
                target = p.get("port")
        for endpoint in slice_.get("endpoints", []) or []:
            if endpoint.get("conditions", {}).get("ready", True) and target and endpoint.get("addresses"):
                return endpoint["addresses"][0], int(target)
    return None


def pod_proxy(state, namespace, ref, rest):
    parts = ref.split(":")
    name = parts[1] if len(parts) >= 2 else parts[0]
    port = int(parts[2]) if len(parts) >= 3 and parts[2].isdigit() else 443
    ip = None
    pod = find(state, "pods", namespace, name)
    if pod is not None:
        ip = pod.get("status", {}).get("podIP")
    for slice_ in objects(state, "endpointslices", namespace):
        for endpoint in slice_.get("endpoints", []) or []:
            if (endpoint.get("targetRef") or {}).get("name") == name:
                ip = endpoint["addresses"][0]
    if ip is None:
        return not_found("pods", name)
    return forward(state, ip, port, rest)


def forward(state, ip, port, rest):
    answer = dial(state, ip, port, rest, float(state.get("dial_timeout", 2.0)))
    if isinstance(answer, str):
        return proxy_error(answer)
    return answer


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fake-kube-apiserver"

    def log_message(self, fmt, *args):  # the request log below replaces it
        pass

    def setup(self):
        self.request.settimeout(30)
        self.request.do_handshake()
        super().setup()

    def reply(self, code, body, content_type="application/json"):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        if code == 429:
            self.send_header("Retry-After", "0")
        self.end_headers()
        self.wfile.write(data)
        return code

    def authenticated(self, state):
        header = self.headers.get("Authorization", "")
        tokens = state.get("tokens") or [state.get("token")]
        if header.startswith("Bearer ") and header[len("Bearer "):] in tokens:
            return "token"
        if self.connection.getpeercert():
            return "certificate"
        return None

    def do_GET(self):
        self.serve("GET", self.route)

    def do_POST(self):
        self.serve("POST", self.route_create)

    def serve(self, method, route):
        state = self.server.state.get()
        url = urllib.parse.urlsplit(self.path)
        query = dict(urllib.parse.parse_qsl(url.query))
        how = self.authenticated(state)
        self.how = how
        self.logged = False
        code = route(state, url.path, query, how)
        if not self.logged:
            self.record_request(method, url.path, query, how, code)

    def record_request(self, method, path, query, how, code):
        self.logged = True
        entry = {"method": method, "path": path, "query": query, "auth": how, "status": code}
        with self.server.log_lock:
            if self.server.log:
                self.server.log.write(json.dumps(entry) + "\n")
                self.server.log.flush()

    def write_chunk(self, data):
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def send_watch_event(self, kind, obj):
        self.write_chunk(json.dumps({"type": kind, "object": obj}).encode() + b"\n")

    def listed(self, resource, namespace, query, obj):
        if namespace is not None and obj.get("metadata", {}).get("namespace") != namespace:
            return False
        if "labelSelector" in query and not matches_selector(obj, query["labelSelector"]):
            return False
        if "fieldSelector" in query and not matches_field_selector(obj, query["fieldSelector"]):
            return False
        return True

    def watch(self, resource, namespace, query):
        """A list path with watch=true: one WatchEvent per line, chunked, as
        kube-apiserver streams them. The request is logged when it starts."""
        self.record_request("GET", urllib.parse.urlsplit(self.path).path, query, self.how, 200)
        try:
            return self.stream_watch(resource, namespace, query)
        except OSError:  # the client went away (or the stream was dropped)
            self.close_connection = True
            return 200

    def stream_watch(self, resource, namespace, query):
        state = self.server.state
        data = state.get()
        api_version, kind = LIST_KINDS[resource]
        with state.lock:
            current = state.rv
            floor = max(state.first_rv, int(data.get("compacted_rv", state.first_rv)))
            initial = [o for o in data.get(resource, []) if self.listed(resource, namespace, query, o)]
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        since = query.get("resourceVersion", "")
        if since in ("", "0"):
            for obj in initial:  # the API's synthetic ADDED of the current objects
                self.send_watch_event("ADDED", obj)
            last = current
        else:
            last = int(since)
            if last < floor:
                _, gone = status(410, "Expired", "too old resource version: %d (%d)" % (last, floor))
                self.send_watch_event("ERROR", gone)
                self.write_chunk(b"")
                return 200
        timeout = float(query.get("timeoutSeconds", 1800))
        deadline = time.monotonic() + timeout
        bookmarks = query.get("allowWatchBookmarks") in ("true", "1")
        next_bookmark = time.monotonic() + float(data.get("bookmark_interval", 1.0))
        while time.monotonic() < deadline:
            data = state.get()
            if data.get("drop_watches"):
                # Abruptly: no final chunk, no TLS close_notify.
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return 200
            if not data.get("silent_watches"):
                with state.lock:
                    changes = state.events_after(last, resource)
                    current = state.rv
                for version, change, obj in changes:
                    last = version
                    if self.listed(resource, namespace, query, obj):
                        self.send_watch_event(change, obj)
                if bookmarks and time.monotonic() >= next_bookmark:
                    last = max(last, current)
                    self.send_watch_event("BOOKMARK", {"kind": kind, "apiVersion": api_version,
                                                       "metadata": {"resourceVersion": str(last)}})
                    next_bookmark = time.monotonic() + float(data.get("bookmark_interval", 1.0))
            time.sleep(0.05)
        self.write_chunk(b"")
        return 200

    def list_or_watch(self, state, resource, namespace, query):
        if query.get("watch") in ("true", "1"):
            return self.watch(resource, namespace, query)
        return self.reply(*list_response(state, resource, namespace, query))

    def read_body(self):
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def create_namespace(self, state, body):
        """POST /api/v1/namespaces: the one real create served (check
        --create-canary, with the user's credentials)."""
        if is_forbidden(state, "create", "namespaces", None):
            return self.reply(*forbidden(state, "create", "namespaces", None, None))
        try:
            obj = json.loads(body)
            name = obj["metadata"]["name"]
        except (ValueError, KeyError, TypeError) as e:
            return self.reply(*status(400, "BadRequest", "the object provided is unrecognized: %s" % e))
        if find(state, "namespaces", None, name) is not None:
            return self.reply(*status(409, "AlreadyExists", 'namespaces "%s" already exists' % name,
                                      {"name": name, "kind": "namespaces"}))
        meta = obj.setdefault("metadata", {})
        labels = dict(meta.get("labels") or {})
        labels["kubernetes.io/metadata.name"] = name
        created = {"metadata": {"name": name, "labels": labels,
                                "uid": "created-%d" % int(time.time() * 1000),
                                "creationTimestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())},
                   "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}}
        self.server.state.add("namespaces", created)
        return self.reply(201, dict(created, kind="Namespace", apiVersion="v1"))

    def route_create(self, state, path, query, how):
        """POST: dry-run creates of pods and Istio gateways, through the admission chain."""
        body = self.read_body()
        if how is None:
            return self.reply(*status(401, "Unauthorized", "Unauthorized"))
        segments = [urllib.parse.unquote(s) for s in path.strip("/").split("/")]
        if segments == ["api", "v1", "namespaces"]:
            return self.create_namespace(state, body)
        target = None
        if segments[:3] == ["api", "v1", "namespaces"] and len(segments) == 5 and segments[4] == "pods":
            target = {"group": "", "version": "v1", "resource": "pods", "kind": "Pod"}
            namespace = segments[3]
        elif len(segments) == 6 and segments[:2] == ["apis", "networking.istio.io"] \
                and segments[2] in GATEWAY_VERSIONS and segments[3] == "namespaces" and segments[5] == "gateways":
            target = {"group": "networking.istio.io", "version": segments[2], "resource": "gateways",
                      "kind": "Gateway"}
            namespace = segments[4]
        if target is None:
            return self.reply(*status(405, "MethodNotAllowed",
                                      "the server does not allow this method on the requested resource", {}))
        if is_forbidden(state, "create", target["resource"], namespace):
            return self.reply(*forbidden(state, "create", target["resource"], namespace, None))
        if query.get("dryRun") != "All":
            # Nothing is ever persisted here: a create that is not a dry run is refused.
            sys.stderr.write("fake_apiserver: refused a POST %s without dryRun=All\n" % path)
            return self.reply(*status(400, "BadRequest",
                                      "the emulated API server only serves dry-run creates (dryRun=All)"))
        if find(state, "namespaces", None, namespace) is None:
            return self.reply(*not_found("namespaces", namespace))
        try:
            obj = json.loads(body)
            if not isinstance(obj, dict):
                raise ValueError("not an object")
        except ValueError as e:
            return self.reply(*status(400, "BadRequest", "the object provided is unrecognized: %s" % e))
        object_namespace = obj.get("metadata", {}).get("namespace")
        if object_namespace and object_namespace != namespace:
            return self.reply(*status(400, "BadRequest",
                                      "the namespace of the provided object does not match the namespace sent on the request"))
        if self.server.admission is None:
            return self.reply(*status(500, "InternalError",
                                      "Internal error occurred: the emulator was started without --gopeer"))
        options = {"kind": "CreateOptions", "apiVersion": "meta.k8s.io/v1", "dryRun": ["All"]}
        if query.get("fieldManager"):
            options["fieldManager"] = query["fieldManager"]
        user = state.get("user", "system:serviceaccount:meshprobe:meshprobe")
        equivalent = GATEWAY_VERSIONS if target["resource"] == "gateways" else ()
        return self.reply(*self.server.admission.create(state, target, namespace, obj, user, options, equivalent))

    def route_nodes(self, state, query):
        """GET /api/v1/nodes: cluster-scoped, paged like every list (the
        control-plane context reads one node, limit=1)."""
        if is_forbidden(state, "list", "nodes", None):
            return self.reply(*forbidden(state, "list", "nodes", None, None))
        return self.list_or_watch(state, "nodes", None, query)

    def route(self, state, path, query, how):
        if how is None:
            return self.reply(*status(401, "Unauthorized", "Unauthorized"))
        fault = self.server.state.take_fault(path)
        if fault:
            return self.reply(*status(fault["status"], fault.get("reason", "InternalError"),
                                      fault.get("message", "injected fault")))
        segments = [urllib.parse.unquote(s) for s in path.strip("/").split("/")]
        if any(kind in segments for kind in state.get("absent_kinds", [])):
            return self.reply(*status(404, "NotFound", "the server could not find the requested resource", {}))
        # /apis/admissionregistration.k8s.io/v1/KIND[/NAME]
        if segments[:3] == ["apis", "admissionregistration.k8s.io", "v1"] and len(segments) in (4, 5) \
                and segments[3] in ("mutatingwebhookconfigurations", "validatingwebhookconfigurations"):
            resource = segments[3]
            verb = "get" if len(segments) == 5 else "list"
            if is_forbidden(state, verb, resource, None):
                return self.reply(*forbidden(state, verb, resource, None, segments[4] if verb == "get" else None))
            if verb == "get":
                return self.reply(*single(state, resource, None, segments[4]))
            return self.list_or_watch(state, resource, None, query)
        # /api/v1/RESOURCE: a list across every namespace
        if segments[:2] == ["api", "v1"] and len(segments) == 3 and segments[2] in ("events", "pods"):
            resource = segments[2]
            if is_forbidden(state, "list", resource, None):
                return self.reply(*forbidden(state, "list", resource, None, None))
            return self.list_or_watch(state, resource, None, query)
        if segments == ["api", "v1", "nodes"]:
            return self.route_nodes(state, query)
        if segments == ["api", "v1", "namespaces"]:
            if is_forbidden(state, "list", "namespaces", None):
                return self.reply(*forbidden(state, "list", "namespaces", None, None))
            return self.list_or_watch(state, "namespaces", None, query)
        # /api/v1/namespaces/NS/RESOURCE[/NAME[/proxy/...]]
        if segments[:3] == ["api", "v1", "namespaces"] and len(segments) >= 5:
            namespace, resource = segments[3], segments[4]
            if resource in ("services", "pods") and len(segments) >= 7 and segments[6] == "proxy":
                rest = "/" + "/".join(path.strip("/").split("/")[7:])
                if query:
                    rest += "?" + urllib.parse.urlencode(query)
                sub = resource + "/proxy"
                if is_forbidden(state, "get", sub, namespace):
                    return self.reply(*forbidden(state, "get", sub, namespace, segments[5]))
                handler = service_proxy if resource == "services" else pod_proxy
                answer = handler(state, namespace, segments[5], rest)
                if len(answer) == 3:
                    return self.reply(answer[0], answer[1], answer[2])
                return self.reply(*answer)
            if resource not in LIST_KINDS:
                return self.reply(*status(404, "NotFound", "the server could not find the requested resource", {}))
            verb = "get" if len(segments) == 6 else "list"
            name = segments[5] if verb == "get" else None
            if is_forbidden(state, verb, resource, namespace):
                return self.reply(*forbidden(state, verb, resource, namespace, name))
            if verb == "get":
                return self.reply(*single(state, resource, namespace, name))
            return self.list_or_watch(state, resource, namespace, query)
        # /apis/discovery.k8s.io/v1/namespaces/NS/endpointslices
        if segments[:4] == ["apis", "discovery.k8s.io", "v1", "namespaces"] and len(segments) == 6 \
                and segments[5] == "endpointslices":
            namespace = segments[4]
            if is_forbidden(state, "list", "endpointslices", namespace):
                return self.reply(*forbidden(state, "list", "endpointslices", namespace, None))
            return self.list_or_watch(state, "endpointslices", namespace, query)
        return self.reply(*status(404, "NotFound", "the server could not find the requested resource", {}))


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    context = None

    # The TLS handshake runs in the connection's thread (Handler.setup), so
    # a client that stalls in it holds up nobody else.
    def get_request(self):
        sock, address = self.socket.accept()
        return self.context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False), address


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--state", required=True)
    parser.add_argument("--cert", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--client-ca")
    parser.add_argument("--port-file", required=True)
    parser.add_argument("--listen", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--log")
    parser.add_argument("--gopeer", help="meshprobe-gopeer, the admission chain's webhook client")
    args = parser.parse_args()

    server = Server((args.listen, args.port), Handler)
    server.state = State(args.state)
    server.state.get()
    server.admission = (fake_admission.AdmissionChain(args.gopeer, objects, status, ready_endpoint)
                        if args.gopeer else None)
    server.log = open(args.log, "a") if args.log else None
    server.log_lock = threading.Lock()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(args.cert, args.key)
    if args.client_ca:
        context.verify_mode = ssl.CERT_OPTIONAL
        context.load_verify_locations(args.client_ca)
    server.context = context
    with open(args.port_file + ".tmp", "w") as f:
        f.write(str(server.server_address[1]))
    os.rename(args.port_file + ".tmp", args.port_file)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    sys.exit(main())
