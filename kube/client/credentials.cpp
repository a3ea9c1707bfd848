#include "kube/client/credentials.h"

#include <boost/json.hpp>
#include <yaml-cpp/yaml.h>

#include <charconv>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>

#include "common/base64.h"
#include "common/text.h"

namespace meshprobe::kube {
namespace {

std::optional<std::string> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return std::nullopt;
  return text.str();
}

// A kubeconfig's named list (clusters, contexts, users): the entry's inner map.
YAML::Node find_named(const YAML::Node& list, std::string_view name, std::string_view inner) {
  if (!list || !list.IsSequence()) return YAML::Node();
  for (const YAML::Node& item : list) {
    if (item.IsMap() && item["name"] && item["name"].IsScalar() && item["name"].Scalar() == name) {
      return item[std::string(inner)];
    }
  }
  return YAML::Node();
}

std::string scalar_or_empty(const YAML::Node& map, const char* key) {
  if (!map || !map.IsMap()) return {};
  const YAML::Node value = map[key];
  return value && value.IsScalar() ? value.Scalar() : std::string();
}

class KubeconfigReader {
 public:
  explicit KubeconfigReader(std::string path) : path_(std::move(path)) {}

  Error error(const std::string& message) const {
    return Error{"kubeconfig " + path_ + ": " + message};
  }

  std::string resolve(const std::string& file) const {
    std::filesystem::path p(file);
    if (p.is_relative()) p = std::filesystem::path(path_).parent_path() / p;
    return p.lexically_normal().string();
  }

  // `KEY-data` (base64) wins over `KEY` (a file), as in client-go.
  Expected<std::string> pem(const YAML::Node& map, const std::string& key,
                            std::string_view what) const {
    const std::string data = scalar_or_empty(map, (key + "-data").c_str());
    if (!data.empty()) {
      auto decoded = base64_decode(data);
      if (!decoded) return error(key + "-data of the " + std::string(what) + " is not base64");
      return std::move(*decoded);
    }
    const std::string file = scalar_or_empty(map, key.c_str());
    if (file.empty()) return std::string();
    const std::string resolved = resolve(file);
    auto text = read_file(resolved);
    if (!text) return error("cannot read " + key + " " + resolved);
    return std::move(*text);
  }

 private:
  std::string path_;
};

// YAML to JSON: plain scalars that read as booleans, null or integers keep
// that type, as client-go's YAML-to-JSON conversion does.
boost::json::value json_of(const YAML::Node& node) {
  if (node.IsMap()) {
    boost::json::object object;
    for (const auto& entry : node) object[entry.first.as<std::string>()] = json_of(entry.second);
    return object;
  }
  if (node.IsSequence()) {
    boost::json::array array;
    for (const YAML::Node& item : node) array.push_back(json_of(item));
    return array;
  }
  if (!node.IsScalar()) return nullptr;
  const std::string& text = node.Scalar();
  if (node.Tag() == "?") {
    if (text == "true") return true;
    if (text == "false") return false;
    if (text == "null" || text == "~") return nullptr;
    long long number = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), number);
    if (ec == std::errc{} && end == text.data() + text.size()) return number;
  }
  return boost::json::string(text);
}

// The cluster's extension for exec plugins, given them as spec.cluster.config.
std::string exec_extension_json(const YAML::Node& cluster) {
  const YAML::Node extensions = cluster["extensions"];
  if (!extensions || !extensions.IsSequence()) return {};
  for (const YAML::Node& item : extensions) {
    if (item.IsMap() && scalar_or_empty(item, "name") == "client.authentication.k8s.io/exec" &&
        item["extension"]) {
      return boost::json::serialize(json_of(item["extension"]));
    }
  }
  return {};
}

// kubectl 1.26 removed the in-tree auth providers; each has an exec plugin.
std::string auth_provider_message(const YAML::Node& user, const std::string& user_name) {
  const std::string name = scalar_or_empty(user["auth-provider"], "name");
  std::string replacement = "the exec credential plugin of your provider";
  if (name == "gcp") {
    replacement =
        "gke-gcloud-auth-plugin (`gcloud components install gke-gcloud-auth-plugin`, then "
        "`gcloud container clusters get-credentials CLUSTER` rewrites the user)";
  } else if (name == "azure") {
    replacement = "kubelogin (`kubelogin convert-kubeconfig` rewrites the user)";
  } else if (name == "oidc") {
    replacement = "kubelogin (`kubectl oidc-login`, int128/kubelogin)";
  }
  return "user " + in_quotes(user_name) + " uses auth-provider " + in_quotes(name) +
         ", which kubectl removed in 1.26 and meshprobe does not run; use the exec plugin " +
         "that replaced it: " + replacement;
}

Expected<ExecConfig> exec_config(const KubeconfigReader& reader, const YAML::Node& exec,
                                 const std::string& user_name, const Credentials& cluster) {
  const auto fail = [&](const std::string& what) {
    return reader.error("user " + in_quotes(user_name) + ": exec plugin: " + what);
  };
  if (!exec.IsMap()) return fail("exec is not a map");
  ExecConfig config;
  config.user = user_name;
  config.api_version = scalar_or_empty(exec, "apiVersion");
  if (config.api_version != kExecApiV1 && config.api_version != kExecApiV1beta1) {
    return fail("invalid apiVersion " + in_quotes(config.api_version) + " (meshprobe runs " +
                std::string(kExecApiV1) + " and " + std::string(kExecApiV1beta1) + ")");
  }
  config.command = scalar_or_empty(exec, "command");
  if (config.command.empty()) return fail("no command");
  config.base_dir = std::filesystem::path(reader.resolve("x")).parent_path().string();
  if (const YAML::Node args = exec["args"]; args && args.IsSequence()) {
    for (const YAML::Node& arg : args) config.args.push_back(arg.IsScalar() ? arg.Scalar() : "");
  }
  if (const YAML::Node env = exec["env"]; env && env.IsSequence()) {
    for (const YAML::Node& entry : env) {
      const std::string name = scalar_or_empty(entry, "name");
      if (name.empty()) return fail("an env entry has no name");
      config.env.emplace_back(name, scalar_or_empty(entry, "value"));
    }
  }
  config.install_hint = scalar_or_empty(exec, "installHint");
  config.provide_cluster_info = scalar_or_empty(exec, "provideClusterInfo") == "true";
  const std::string mode = scalar_or_empty(exec, "interactiveMode");
  if (mode.empty() && config.api_version == kExecApiV1) {
    return fail("interactiveMode must be specified for " + std::string(kExecApiV1));
  }
  if (mode == "Always") {
    return fail(
        "interactiveMode is Always, but meshprobe never has a terminal to give the "
        "plugin; use IfAvailable or Never (with a plugin that can run unattended)");
  }
  if (mode == "Never") {
    config.interactive_mode = ExecInteractiveMode::never;
  } else if (mode.empty() || mode == "IfAvailable") {
    config.interactive_mode = ExecInteractiveMode::if_available;
  } else {
    return fail("invalid interactiveMode " + in_quotes(mode) + " (Never, IfAvailable or Always)");
  }
  config.server = cluster.server;
  config.ca_pem = cluster.ca_pem;
  config.insecure_skip_tls_verify = cluster.insecure_skip_tls_verify;
  config.proxy_url = cluster.proxy_url;
  return config;
}

}  // namespace

InClusterEnvironment InClusterEnvironment::from_process() {
  InClusterEnvironment environment;
  if (const char* host = std::getenv("KUBERNETES_SERVICE_HOST")) environment.host = host;
  if (const char* port = std::getenv("KUBERNETES_SERVICE_PORT")) environment.port = port;
  return environment;
}

Expected<Credentials> in_cluster_credentials(const InClusterEnvironment& environment) {
  if (environment.host.empty() || environment.port.empty()) {
    return Error{
        "no in-cluster Kubernetes credentials: KUBERNETES_SERVICE_HOST/PORT are not set "
        "(not running in a pod?); set kubernetes.kubeconfig or --kubeconfig"};
  }
  const std::filesystem::path dir(environment.service_account_dir);
  Credentials credentials;
  const bool ipv6 = environment.host.find(':') != std::string::npos;
  credentials.server = "https://" + (ipv6 ? "[" + environment.host + "]" : environment.host) + ":" +
                       environment.port;
  credentials.token_file = (dir / "token").string();
  if (!read_file(credentials.token_file)) {
    return Error{"no in-cluster Kubernetes credentials: cannot read the service-account token " +
                 credentials.token_file + " (automountServiceAccountToken: false?)"};
  }
  const std::string ca_file = (dir / "ca.crt").string();
  auto ca = read_file(ca_file);
  if (!ca) return Error{"cannot read the cluster CA " + ca_file};
  credentials.ca_pem = std::move(*ca);
  credentials.description = "in-cluster service account";
  if (auto ns = read_file((dir / "namespace").string())) {
    credentials.description += " (namespace " + *ns + ")";
  }
  return credentials;
}

Expected<Credentials> load_kubeconfig(const std::string& path, const std::string& context) {
  auto text = read_file(path);
  if (!text) return Error{"kubeconfig " + path + ": cannot read the file"};
  return parse_kubeconfig(*text, path, context);
}

Expected<Credentials> parse_kubeconfig(std::string_view yaml, const std::string& path,
                                       const std::string& context) {
  const KubeconfigReader reader(path);
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml));
  } catch (const YAML::Exception& e) {
    return reader.error("not valid YAML: " + e.msg);
  }
  if (!root.IsMap()) return reader.error("not a kubeconfig (expected a map)");

  const std::string context_name =
      context.empty() ? scalar_or_empty(root, "current-context") : context;
  if (context_name.empty()) {
    return reader.error("no current-context; name one with kubernetes.context");
  }
  const YAML::Node ctx = find_named(root["contexts"], context_name, "context");
  if (!ctx || !ctx.IsMap())
    return reader.error("context " + in_quotes(context_name) + " not found");

  const std::string cluster_name = scalar_or_empty(ctx, "cluster");
  const YAML::Node cluster = find_named(root["clusters"], cluster_name, "cluster");
  if (!cluster || !cluster.IsMap()) {
    return reader.error("cluster " + in_quotes(cluster_name) + " of context " +
                        in_quotes(context_name) + " not found");
  }
  Credentials credentials;
  credentials.description = "kubeconfig " + path + ", context " + context_name;
  credentials.server = scalar_or_empty(cluster, "server");
  while (credentials.server.ends_with('/')) credentials.server.pop_back();
  if (!credentials.server.starts_with("https://") && !credentials.server.starts_with("http://")) {
    return reader.error("cluster " + in_quotes(cluster_name) + " has no https:// server");
  }
  if (!scalar_or_empty(cluster, "tls-server-name").empty()) {
    return reader.error("cluster " + in_quotes(cluster_name) +
                        " sets tls-server-name, which meshprobe does not support; "
                        "use a server URL whose host the certificate covers");
  }
  credentials.proxy_url = scalar_or_empty(cluster, "proxy-url");
  credentials.insecure_skip_tls_verify =
      scalar_or_empty(cluster, "insecure-skip-tls-verify") == "true";
  auto ca = reader.pem(cluster, "certificate-authority", "cluster");
  if (!ca) return ca.error();
  credentials.ca_pem = std::move(*ca);

  const std::string user_name = scalar_or_empty(ctx, "user");
  YAML::Node user = find_named(root["users"], user_name, "user");
  if (!user_name.empty() && !user) {
    return reader.error("user " + in_quotes(user_name) + " of context " + in_quotes(context_name) +
                        " not found");
  }
  if (user && user.IsMap()) {
    if (user["auth-provider"]) return reader.error(auth_provider_message(user, user_name));
    if (user["exec"]) {
      auto exec = exec_config(reader, user["exec"], user_name, credentials);
      if (!exec) return exec.error();
      exec->extension_json = exec_extension_json(cluster);
      credentials.exec = std::move(*exec);
    }
    credentials.token = scalar_or_empty(user, "token");
    const std::string token_file = scalar_or_empty(user, "tokenFile");
    if (credentials.token.empty() && !token_file.empty()) {
      credentials.token_file = reader.resolve(token_file);
      if (!read_file(credentials.token_file)) {
        return reader.error("cannot read tokenFile " + credentials.token_file);
      }
    }
    auto cert = reader.pem(user, "client-certificate", "user");
    if (!cert) return cert.error();
    auto key = reader.pem(user, "client-key", "user");
    if (!key) return key.error();
    if (cert->empty() != key->empty()) {
      return reader.error("user " + in_quotes(user_name) +
                          " has a client certificate without its key, or a key without "
                          "its certificate");
    }
    credentials.client_cert_pem = std::move(*cert);
    credentials.client_key_pem = std::move(*key);
  }
  return credentials;
}

}  // namespace meshprobe::kube
