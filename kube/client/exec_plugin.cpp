#include "kube/client/exec_plugin.h"

#include <boost/json.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <iostream>

#include "common/base64.h"
#include "common/text.h"
#include "kube/client/detail/subprocess.h"

extern char** environ;

namespace meshprobe::kube {
namespace {

namespace json = boost::json;
using std::chrono::system_clock;

constexpr std::size_t kStderrInMessage = 512;

bool is_executable_file(const std::string& path) {
  struct stat info {};
  return ::stat(path.c_str(), &info) == 0 && S_ISREG(info.st_mode) &&
         ::access(path.c_str(), X_OK) == 0;
}

// As Go's exec.LookPath (a name with a '/' is a path, else each PATH entry
// is tried), except that a relative path is the kubeconfig's, as client-go
// resolves it when it loads the file.
std::optional<std::string> look_path(const ExecConfig& config) {
  if (config.command.find('/') != std::string::npos) {
    std::filesystem::path path(config.command);
    if (path.is_relative() && !config.base_dir.empty()) path = config.base_dir / path;
    std::string resolved = path.lexically_normal().string();
    if (is_executable_file(resolved)) return resolved;
    return std::nullopt;
  }
  const char* path_variable = std::getenv("PATH");
  std::string_view dirs = path_variable != nullptr ? path_variable : "";
  if (dirs.empty()) return std::nullopt;
  for (;;) {
    const std::size_t colon = dirs.find(':');
    std::string dir(dirs.substr(0, colon));
    if (dir.empty()) dir = ".";
    const std::string candidate = dir + "/" + config.command;
    if (is_executable_file(candidate)) return candidate;
    if (colon == std::string_view::npos) break;
    dirs.remove_prefix(colon + 1);
  }
  return std::nullopt;
}

std::vector<std::string> environment_for(const ExecConfig& config) {
  std::vector<std::string> environment;
  const auto set = [&environment](const std::string& name, const std::string& value) {
    const std::string prefix = name + "=";
    for (std::string& entry : environment) {
      if (entry.starts_with(prefix)) {
        entry = prefix + value;
        return;
      }
    }
    environment.push_back(prefix + value);
  };
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    environment.emplace_back(*entry);
  }
  for (const auto& [name, value] : config.env) set(name, value);
  set("KUBERNETES_EXEC_INFO", exec_info_json(config));
  return environment;
}

// Printable and short, for the end of a message.
std::string printable_tail(std::string_view text, std::size_t limit) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ')) {
    text.remove_suffix(1);
  }
  std::string out(text.size() > limit ? text.substr(text.size() - limit) : text);
  for (char& c : out) {
    if (static_cast<unsigned char>(c) < 0x20) c = ' ';
  }
  return out;
}

void forward_stderr(const ExecConfig& config, const detail::ProcessResult& result) {
  if (result.err.empty()) return;
  const std::string text = (result.err_truncated ? "[...] " : "") + result.err;
  if (config.on_stderr) {
    config.on_stderr(text);
    return;
  }
  std::string lines;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    lines += "exec plugin " + config.command + ": " + text.substr(start, end - start) + "\n";
    start = end + 1;
  }
  std::cerr << lines << std::flush;
}

std::string seconds_text(std::chrono::milliseconds duration) {
  const auto ms = duration.count();
  return ms % 1000 == 0 ? std::to_string(ms / 1000) + "s" : std::to_string(ms) + "ms";
}

// What went wrong with a run that gave no credential; never stdout.
std::optional<std::string> run_failure(const ExecConfig& config,
                                       const detail::ProcessResult& result) {
  const std::string what = "exec: executable " + config.command;
  std::string message;
  if (!result.spawn_error.empty()) {
    message = what + " could not be started: " + result.spawn_error;
  } else if (result.timed_out) {
    message = what + " did not finish within " + seconds_text(config.timeout) +
              " and was killed (with its process group)";
  } else if (result.stdout_too_large) {
    message = what + " printed more than " + std::to_string(detail::ProcessSpec{}.max_stdout) +
              " bytes and was killed";
  } else if (result.signal != 0) {
    message = what + " was killed by signal " + std::to_string(result.signal);
  } else if (result.exit_code != 0) {
    message = what + " failed with exit code " + std::to_string(result.exit_code);
  } else {
    return std::nullopt;
  }
  const std::string said = printable_tail(result.err, kStderrInMessage);
  if (!said.empty()) message += "; its stderr ends: " + said;
  return message;
}

const json::value* member(const json::object& object, std::string_view key) {
  const json::value* value = object.if_contains(key);
  return value == nullptr || value->is_null() ? nullptr : value;
}

// A string member, "" when absent; nullopt when it is not a string.
std::optional<std::string> string_member(const json::object& object, std::string_view key) {
  const json::value* value = member(object, key);
  if (value == nullptr) return std::string();
  if (!value->is_string()) return std::nullopt;
  return std::string(value->get_string());
}

bool looks_like_pem(std::string_view text) { return text.find("-----BEGIN ") != std::string::npos; }

int digits(std::string_view text, std::size_t at, std::size_t count) {
  if (at + count > text.size()) return -1;
  int value = 0;
  for (std::size_t i = at; i < at + count; ++i) {
    if (text[i] < '0' || text[i] > '9') return -1;
    value = value * 10 + (text[i] - '0');
  }
  return value;
}

}  // namespace

std::optional<system_clock::time_point> parse_rfc3339(std::string_view text) {
  // YYYY-MM-DDTHH:MM:SS
  if (text.size() < 20 || text[4] != '-' || text[7] != '-' ||
      (text[10] != 'T' && text[10] != 't') || text[13] != ':' || text[16] != ':') {
    return std::nullopt;
  }
  std::tm tm{};
  const int year = digits(text, 0, 4), month = digits(text, 5, 2), day = digits(text, 8, 2);
  const int hour = digits(text, 11, 2), minute = digits(text, 14, 2), second = digits(text, 17, 2);
  if (year < 0 || month < 1 || month > 12 || day < 1 || day > 31 || hour < 0 || hour > 23 ||
      minute < 0 || minute > 59 || second < 0 || second > 60) {
    return std::nullopt;
  }
  tm.tm_year = year - 1900;
  tm.tm_mon = month - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = minute;
  tm.tm_sec = second;
  std::size_t at = 19;
  std::chrono::nanoseconds fraction{0};
  if (text[at] == '.') {
    ++at;
    long long nanos = 0;
    int count = 0;
    for (; at < text.size() && text[at] >= '0' && text[at] <= '9'; ++at, ++count) {
      if (count < 9) nanos = nanos * 10 + (text[at] - '0');
    }
    if (count == 0) return std::nullopt;
    for (int i = count; i < 9; ++i) nanos *= 10;
    fraction = std::chrono::nanoseconds(nanos);
  }
  int offset_minutes = 0;
  const std::string_view zone = text.substr(at);
  if (zone == "Z" || zone == "z") {
  } else if (zone.size() == 6 && (zone[0] == '+' || zone[0] == '-') && zone[3] == ':') {
    const int hours = digits(zone, 1, 2), minutes = digits(zone, 4, 2);
    if (hours < 0 || minutes < 0 || hours > 23 || minutes > 59) return std::nullopt;
    offset_minutes = (zone[0] == '-' ? -1 : 1) * (hours * 60 + minutes);
  } else {
    return std::nullopt;
  }
  const std::time_t seconds = ::timegm(&tm);
  return system_clock::from_time_t(seconds) - std::chrono::minutes(offset_minutes) +
         std::chrono::duration_cast<system_clock::duration>(fraction);
}

std::string exec_info_json(const ExecConfig& config) {
  json::object spec;
  spec["interactive"] = false;
  if (config.provide_cluster_info) {
    json::object cluster;
    cluster["server"] = config.server;
    if (!config.ca_pem.empty()) {
      cluster["certificate-authority-data"] = base64_encode(config.ca_pem);
    }
    if (config.insecure_skip_tls_verify) cluster["insecure-skip-tls-verify"] = true;
    if (!config.proxy_url.empty()) cluster["proxy-url"] = config.proxy_url;
    if (!config.extension_json.empty()) {
      boost::system::error_code ec;
      json::value extension = json::parse(config.extension_json, ec);
      if (!ec) cluster["config"] = std::move(extension);
    }
    spec["cluster"] = std::move(cluster);
  }
  json::object credential;
  credential["kind"] = "ExecCredential";
  credential["apiVersion"] = config.api_version;
  credential["spec"] = std::move(spec);
  return json::serialize(credential);
}

Expected<ExecCredential> parse_exec_credential(std::string_view text, const ExecConfig& config) {
  boost::system::error_code ec;
  const json::value document = json::parse(text, ec);
  if (ec || !document.is_object()) {
    return Error{"exec plugin output is not an ExecCredential (not a JSON object)"};
  }
  const json::object& object = document.get_object();
  const auto api_version = string_member(object, "apiVersion");
  const auto kind = string_member(object, "kind");
  if (!api_version || *api_version != config.api_version) {
    return Error{"exec plugin is configured to use API version " + config.api_version +
                 ", plugin returned version " + in_quotes(api_version.value_or("?"))};
  }
  if (!kind || *kind != "ExecCredential") {
    return Error{"exec plugin returned kind " + in_quotes(kind.value_or("?")) +
                 ", not ExecCredential"};
  }
  const json::value* status = member(object, "status");
  if (status == nullptr || !status->is_object()) {
    return Error{"exec plugin didn't return a status field"};
  }
  const json::object& fields = status->get_object();
  const auto token = string_member(fields, "token");
  const auto cert = string_member(fields, "clientCertificateData");
  const auto key = string_member(fields, "clientKeyData");
  const auto expiry = string_member(fields, "expirationTimestamp");
  if (!token || !cert || !key || !expiry) {
    return Error{"exec plugin returned a status whose fields are not strings"};
  }
  if (cert->empty() != key->empty()) {
    return Error{"exec plugin returned only certificate or key, not both"};
  }
  if (token->empty() && cert->empty()) {
    return Error{"exec plugin didn't return a token or cert/key pair"};
  }
  if (!cert->empty() && (!looks_like_pem(*cert) || !looks_like_pem(*key))) {
    return Error{"exec plugin returned clientCertificateData or clientKeyData that is not PEM"};
  }
  ExecCredential credential{*token, *cert, *key, std::nullopt, 0};
  if (!expiry->empty()) {
    credential.expiry = parse_rfc3339(*expiry);
    if (!credential.expiry) {
      return Error{"exec plugin returned an expirationTimestamp that is not RFC 3339"};
    }
  }
  return credential;
}

ExecAuthenticator::ExecAuthenticator(ExecConfig config) : config_(std::move(config)) {}

int ExecAuthenticator::runs() const {
  std::lock_guard lock(mutex_);
  return runs_;
}

Expected<std::shared_ptr<const ExecCredential>> ExecAuthenticator::credential(
    std::uint64_t rejected) {
  std::lock_guard lock(mutex_);
  if (cached_ && rejected != 0 && cached_->generation == rejected) cached_.reset();
  if (cached_ && cached_->expiry &&
      system_clock::now() + config_.refresh_before >= *cached_->expiry) {
    cached_.reset();
  }
  if (cached_) return cached_;
  ++runs_;
  auto fresh = run();
  if (!fresh) {
    return Error{"kubeconfig user " + in_quotes(config_.user) + ": " + fresh.error().message};
  }
  fresh->generation = ++generation_;
  cached_ = std::make_shared<const ExecCredential>(std::move(*fresh));
  return cached_;
}

Expected<ExecCredential> ExecAuthenticator::run() const {
  const std::optional<std::string> executable = look_path(config_);
  if (!executable) {
    std::string message = "exec: executable " + config_.command +
                          " not found; it looks like you are trying to use a client-go "
                          "credential plugin that is not installed";
    if (!config_.install_hint.empty()) {
      message += ": " + printable_tail(config_.install_hint, 2048);
    }
    return Error{message};
  }
  detail::ProcessSpec spec;
  spec.executable = *executable;
  spec.argv.push_back(config_.command);
  spec.argv.insert(spec.argv.end(), config_.args.begin(), config_.args.end());
  spec.environment = environment_for(config_);
  spec.timeout = config_.timeout;
  const detail::ProcessResult result = detail::run_process(spec);
  forward_stderr(config_, result);
  if (auto failure = run_failure(config_, result)) return Error{*failure};
  auto credential = parse_exec_credential(result.out, config_);
  if (!credential) {
    return Error{"exec: executable " + config_.command + ": " + credential.error().message};
  }
  return credential;
}

}  // namespace meshprobe::kube
