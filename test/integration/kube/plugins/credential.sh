#!/bin/sh
# An exec credential plugin for the tests. In $PLUGIN_STATE (a directory):
# counts its runs in `runs`, copies KUBERNETES_EXEC_INFO to `exec-info`, then
# prints an ExecCredential of $PLUGIN_API_VERSION with the token in `token`,
# or the client certificate and key in cert.pem and key.pem, and the
# expirationTimestamp in `expiry` when that file exists.
set -eu
state="$PLUGIN_STATE"
echo run >> "$state/runs"
printf '%s' "${KUBERNETES_EXEC_INFO:-}" > "$state/exec-info"
echo "credential plugin: run $(wc -l < "$state/runs")" >&2
exec python3 - "$state" "$PLUGIN_API_VERSION" <<'PY'
import json, os, sys
state, version = sys.argv[1], sys.argv[2]
def read(name):
    path = os.path.join(state, name)
    return open(path).read().strip() if os.path.exists(path) else None
status = {}
if read("token") is not None:
    status["token"] = read("token")
else:
    status["clientCertificateData"] = open(os.path.join(state, "cert.pem")).read()
    status["clientKeyData"] = open(os.path.join(state, "key.pem")).read()
if read("expiry"):
    status["expirationTimestamp"] = read("expiry")
print(json.dumps({"apiVersion": version, "kind": "ExecCredential", "status": status}))
PY
