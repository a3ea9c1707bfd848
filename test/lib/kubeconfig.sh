# write_token_kubeconfig FILE SERVER CA_PEM TOKEN: the kubeconfig a node's
# kubectl has for an API server at SERVER (https://HOST:PORT) whose serving
# certificate CA_PEM signs, with a bearer token. Shared by every shell suite
# that runs the emulated API server (test/integration/kube/fake_apiserver.py).
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
}
