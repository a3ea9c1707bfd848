# write_token_kubeconfig FILE SERVER CA_PEM TOKEN [CLIENT_PEM CLIENT_KEY_PEM]:
# the kubeconfig a node's kubectl has for an API server at SERVER
# (https://HOST:PORT) whose serving certificate CA_PEM signs, with a bearer
# token (and a client certificate and key when given). Shared by every shell
# suite that runs the emulated API server
# (test/integration/kube/fake_apiserver.py).
# shellcheck shell=bash
write_token_kubeconfig() {
  cat >"$1" <<YAML
apiVersion: v1
kind: Config
current-context: test
clusters:
- name: test
  cluster:
    server: $2
    certificate-authority-data: $(base64 -w0 <"$3")
contexts:
- name: test
  context: {cluster: test, user: meshprobe}
users:
- name: meshprobe
  user:
    token: $4
YAML
  if [ $# -ge 6 ]; then
    cat >>"$1" <<YAML
    client-certificate-data: $(base64 -w0 <"$5")
    client-key-data: $(base64 -w0 <"$6")
YAML
  fi
}
