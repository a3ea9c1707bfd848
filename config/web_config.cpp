#include "config/web_config.h"

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <yaml-cpp/yaml.h>

#include <crypt.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <span>
#include <sstream>
#include <vector>

#include "config/config.h"
#include "config/yaml_guard.h"
#include "config/yaml_text.h"

namespace meshprobe {
namespace {

constexpr std::string_view kTopLevelKeys[] = {"tls_server_config", "basic_auth_users"};
constexpr std::string_view kTlsKeys[] = {"cert_file",        "key_file",    "client_ca_file",
                                         "client_auth_type", "min_version", "max_version"};
// exporter-toolkit keys meshprobe does not implement: named as such, so a
// file shared with an exporter fails with a reason rather than "unknown".
constexpr std::string_view kUnsupportedKeys[] = {"http_server_config",
                                                 "cert",
                                                 "key",
                                                 "client_ca",
                                                 "cipher_suites",
                                                 "curve_preferences",
                                                 "prefer_server_cipher_suites",
                                                 "client_allowed_sans"};

struct ClientAuthName {
  std::string_view name;
  ClientAuthType type;
};
constexpr ClientAuthName kClientAuthTypes[] = {
    {"NoClientCert", ClientAuthType::no_client_cert},
    {"RequestClientCert", ClientAuthType::request_client_cert},
    {"RequireAnyClientCert", ClientAuthType::require_any_client_cert},
    {"VerifyClientCertIfGiven", ClientAuthType::verify_client_cert_if_given},
    {"RequireAndVerifyClientCert", ClientAuthType::require_and_verify_client_cert},
};

struct TlsVersionName {
  std::string_view name;
  TlsVersion version;
};
constexpr TlsVersionName kTlsVersions[] = {{"TLS12", TlsVersion::tls12},
                                           {"TLS13", TlsVersion::tls13}};

// bcrypt's cost is the log2 of its rounds. Every check with a wrong password
// pays it in full; above 16 (seconds per check) one bad client could keep
// the endpoint's password checker busy for minutes.
constexpr int kMinBcryptCost = 4;
constexpr int kMaxBcryptCost = 16;

using yaml_text::Entry;
using yaml_text::in_quotes;
using yaml_text::joined;
using yaml_text::line_of;

// What a value is, for messages -- never the value itself: in this file a
// value may be a password hash. The agent config's describe (parser.h) quotes
// a scalar's text instead; the two are kept apart on purpose.
std::string kind_of(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map: return "a map";
    case YAML::NodeType::Sequence: return "a list";
    case YAML::NodeType::Scalar: return "text";
    default: return "nothing";
  }
}

// The OpenSSL errors queued by a failed call, as one line; the queue is
// emptied. OpenSSL's reasons name what failed, never key material.
std::string openssl_reason() {
  std::string out;
  while (const unsigned long code = ERR_get_error()) {
    char text[256];
    ERR_error_string_n(code, text, sizeof text);
    if (!out.empty()) out += "; ";
    out += text;
  }
  return out.empty() ? "unknown OpenSSL error" : out;
}

class Parser {
 public:
  explicit Parser(std::string source) : source_(std::move(source)) {}

  WebConfig parse(const std::string& yaml_text) const {
    YamlRead read = read_yaml_document(yaml_text);
    if (read.error) fail(read.error->line, read.error->message);
    const YamlDocument& document = read.document;
    if (document.second_document_line != 0) {
      fail(document.second_document_line, "a second YAML document; a web config holds exactly one");
    }
    WebConfig web;
    web.source = source_;
    // An empty web config, as with exporter-toolkit: plain HTTP, no auth.
    if (!document.root || document.root.IsNull()) return web;
    const YAML::Node& root = document.root;
    if (!root.IsMap()) {
      fail(line_of(root), "the web config must be a map, got " + kind_of(root));
    }
    for (const Entry& entry : section(root, "at the top level", kTopLevelKeys)) {
      if (entry.key == "tls_server_config") web.tls = read_tls(entry);
      if (entry.key == "basic_auth_users") read_users(entry, web);
    }
    return web;
  }

 private:
  [[noreturn]] void fail(int line, std::string message) const {
    throw ConfigError(source_, line, std::move(message));
  }

  std::vector<Entry> section(const YAML::Node& map, std::string_view where,
                             std::span<const std::string_view> known) const {
    std::vector<Entry> found = entries(map, where, "key");
    for (const Entry& entry : found) {
      if (std::ranges::find(known, entry.key) != known.end()) continue;
      if (std::ranges::find(kUnsupportedKeys, entry.key) != std::end(kUnsupportedKeys)) {
        fail(entry.line, in_quotes(entry.key) + " " + std::string(where) +
                             " is an exporter-toolkit setting meshprobe does not support; "
                             "known keys: " +
                             joined(known));
      }
      fail(entry.line, "unknown key " + in_quotes(entry.key) + " " + std::string(where) +
                           "; known keys: " + joined(known));
    }
    return found;
  }

  std::vector<Entry> entries(const YAML::Node& map, std::string_view where,
                             std::string_view key_noun) const {
    return yaml_text::entries(map, source_, where, key_noun, kind_of);
  }

  const std::string& text(const Entry& entry) const {
    if (!entry.value.IsScalar() || entry.value.Scalar().empty()) {
      fail(entry.value_line(),
           in_quotes(entry.key) + " must be non-empty text, got " + kind_of(entry.value));
    }
    return entry.value.Scalar();
  }

  // A readable file, relative to the web config's directory.
  std::string file(const Entry& entry) const {
    std::string name = yaml_text::relative_to_source(source_, text(entry));
    std::ifstream probe(name, std::ios::binary);
    if (!probe) {
      fail(entry.value_line(),
           in_quotes(entry.key) + " " + in_quotes(name) + ": cannot read: " + std::strerror(errno));
    }
    return name;
  }

  template <typename Named, std::size_t N>
  auto choice(const Entry& entry, const Named (&names)[N]) const {
    const std::string& name = text(entry);
    for (const Named& known : names) {
      if (known.name == name) return &known;
    }
    std::vector<std::string_view> listed;
    for (const Named& known : names) listed.push_back(known.name);
    fail(entry.value_line(),
         in_quotes(entry.key) + " must be one of " + joined(listed) + ", got " + in_quotes(name));
  }

  WebTlsConfig read_tls(const Entry& entry) const {
    if (!entry.value.IsMap()) {
      fail(entry.value_line(),
           "\"tls_server_config\" must be a map with cert_file and key_file, got " +
               kind_of(entry.value));
    }
    WebTlsConfig tls;
    tls.line = entry.line;
    bool has_cert = false;
    bool has_key = false;
    bool has_auth_type = false;
    int ca_line = 0;
    for (const Entry& key : section(entry.value, "in \"tls_server_config\"", kTlsKeys)) {
      if (key.key == "cert_file") {
        tls.cert_file = file(key);
        has_cert = true;
      } else if (key.key == "key_file") {
        tls.key_file = file(key);
        has_key = true;
      } else if (key.key == "client_ca_file") {
        tls.client_ca_file = file(key);
        ca_line = key.line;
      } else if (key.key == "client_auth_type") {
        tls.client_auth = choice(key, kClientAuthTypes)->type;
        has_auth_type = true;
      } else if (key.key == "min_version") {
        tls.min_version = choice(key, kTlsVersions)->version;
      } else if (key.key == "max_version") {
        tls.max_version = choice(key, kTlsVersions)->version;
      }
    }
    if (!has_cert || !has_key) {
      fail(entry.line, std::string("\"tls_server_config\" needs ") +
                           (has_cert ? "\"key_file\"" : "\"cert_file\"") +
                           (has_cert || has_key ? "" : " and \"key_file\""));
    }
    const bool verifies = tls.client_auth == ClientAuthType::verify_client_cert_if_given ||
                          tls.client_auth == ClientAuthType::require_and_verify_client_cert;
    if (verifies && tls.client_ca_file.empty()) {
      fail(entry.line,
           "\"client_auth_type\" " +
               std::string(tls.client_auth == ClientAuthType::verify_client_cert_if_given
                               ? "VerifyClientCertIfGiven"
                               : "RequireAndVerifyClientCert") +
               " needs \"client_ca_file\" to verify client certificates with");
    }
    if (!tls.client_ca_file.empty() && tls.client_auth == ClientAuthType::no_client_cert) {
      fail(ca_line, std::string("\"client_ca_file\" is set but ") +
                        (has_auth_type ? "\"client_auth_type\" is NoClientCert"
                                       : "\"client_auth_type\" is not") +
                        ": no client certificate would be asked for (set "
                        "client_auth_type: RequireAndVerifyClientCert)");
    }
    if (tls.min_version > tls.max_version) {
      fail(entry.line, "\"min_version\" is above \"max_version\"");
    }
    tls.context = make_server_tls_context(tls, source_);
    return tls;
  }

  void read_users(const Entry& entry, WebConfig& web) const {
    if (entry.value.IsNull()) return;  // `basic_auth_users:` alone: nobody, no auth
    if (!entry.value.IsMap()) {
      fail(entry.value_line(),
           "\"basic_auth_users\" must be a map of user names to bcrypt hashes, got " +
               kind_of(entry.value));
    }
    for (const Entry& user : entries(entry.value, "in \"basic_auth_users\"", "user")) {
      const bool bad_name = user.key.empty() || std::ranges::any_of(user.key, [](char c) {
                              return c == ':' || static_cast<unsigned char>(c) < 0x20 || c == 0x7f;
                            });
      if (bad_name) {
        fail(user.line, "user name " + in_quotes(user.key) +
                            " in \"basic_auth_users\" must be non-empty, without ':' or "
                            "control characters");
      }
      if (!user.value.IsScalar()) {
        fail(user.value_line(), "the password hash of user " + in_quotes(user.key) +
                                    " must be text (a bcrypt hash), got " + kind_of(user.value));
      }
      const std::string& hash = user.value.Scalar();
      if (!is_bcrypt_hash(hash)) {
        fail(user.value_line(),
             "the password hash of user " + in_quotes(user.key) +
                 " is not a bcrypt hash: use $2y$, $2b$ or $2a$ with a cost from " +
                 std::to_string(kMinBcryptCost) + " to " + std::to_string(kMaxBcryptCost) +
                 " (e.g. from htpasswd -nbB USER PASSWORD)");
      }
      web.basic_auth_users.emplace(user.key, hash);
    }
  }

  std::string source_;
};

// RequestClientCert and RequireAnyClientCert ask for a certificate but do
// not verify it, as in Go's crypto/tls.
int accept_any_certificate(int /*preverified*/, X509_STORE_CTX* /*store*/) { return 1; }

// A key with a passphrase must fail to load, not prompt on the terminal.
int no_passphrase(char* /*buffer*/, int /*size*/, int /*rwflag*/, void* /*user*/) { return 0; }

int openssl_version(TlsVersion version) {
  return version == TlsVersion::tls13 ? TLS1_3_VERSION : TLS1_2_VERSION;
}

}  // namespace

std::shared_ptr<ssl_ctx_st> make_server_tls_context(const WebTlsConfig& tls,
                                                    const std::string& source) {
  const auto fail = [&](const std::string& message) -> void {
    throw ConfigError(source, tls.line, message);
  };
  ERR_clear_error();
  std::shared_ptr<SSL_CTX> context(SSL_CTX_new(TLS_server_method()), &SSL_CTX_free);
  if (!context) fail("cannot create a TLS context: " + openssl_reason());
  SSL_CTX* ctx = context.get();
  SSL_CTX_set_default_passwd_cb(ctx, &no_passphrase);
  SSL_CTX_set_min_proto_version(ctx, openssl_version(tls.min_version));
  SSL_CTX_set_max_proto_version(ctx, openssl_version(tls.max_version));
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  if (SSL_CTX_use_certificate_chain_file(ctx, tls.cert_file.c_str()) != 1) {
    fail("\"cert_file\" " + in_quotes(tls.cert_file) +
         ": cannot load a PEM certificate chain: " + openssl_reason());
  }
  if (SSL_CTX_use_PrivateKey_file(ctx, tls.key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    const bool mismatch = ERR_GET_REASON(ERR_peek_last_error()) == X509_R_KEY_VALUES_MISMATCH;
    if (mismatch) {
      ERR_clear_error();
      fail("\"key_file\" " + in_quotes(tls.key_file) + " is not the key of the certificate in " +
           in_quotes(tls.cert_file));
    }
    fail("\"key_file\" " + in_quotes(tls.key_file) +
         ": cannot load an unencrypted PEM private key: " + openssl_reason());
  }
  if (SSL_CTX_check_private_key(ctx) != 1) {
    ERR_clear_error();
    fail("\"key_file\" " + in_quotes(tls.key_file) + " is not the key of the certificate in " +
         in_quotes(tls.cert_file));
  }
  if (!tls.client_ca_file.empty()) {
    if (SSL_CTX_load_verify_locations(ctx, tls.client_ca_file.c_str(), nullptr) != 1) {
      fail("\"client_ca_file\" " + in_quotes(tls.client_ca_file) +
           ": cannot load PEM CA certificates: " + openssl_reason());
    }
    // The names a client is told to pick its certificate by.
    if (STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(tls.client_ca_file.c_str())) {
      SSL_CTX_set_client_CA_list(ctx, names);
    }
  }
  int mode = SSL_VERIFY_NONE;
  SSL_verify_cb callback = nullptr;
  switch (tls.client_auth) {
    case ClientAuthType::no_client_cert: break;
    case ClientAuthType::request_client_cert:
      mode = SSL_VERIFY_PEER;
      callback = &accept_any_certificate;
      break;
    case ClientAuthType::require_any_client_cert:
      mode = SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
      callback = &accept_any_certificate;
      break;
    case ClientAuthType::verify_client_cert_if_given: mode = SSL_VERIFY_PEER; break;
    case ClientAuthType::require_and_verify_client_cert:
      mode = SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
      break;
  }
  SSL_CTX_set_verify(ctx, mode, callback);
  // Session resumption with client certificates needs a session context.
  static constexpr unsigned char kSessionContext[] = "meshprobe";
  SSL_CTX_set_session_id_context(ctx, kSessionContext, sizeof kSessionContext - 1);
  ERR_clear_error();
  return context;
}

bool is_bcrypt_hash(std::string_view hash) {
  if (hash.size() != 60 || hash[0] != '$' || hash[1] != '2' || hash[3] != '$' || hash[6] != '$') {
    return false;
  }
  if (hash[2] != 'a' && hash[2] != 'b' && hash[2] != 'y') return false;
  const auto digit = [](char c) { return c >= '0' && c <= '9'; };
  if (!digit(hash[4]) || !digit(hash[5])) return false;
  const int cost = (hash[4] - '0') * 10 + (hash[5] - '0');
  if (cost < kMinBcryptCost || cost > kMaxBcryptCost) return false;
  return std::all_of(hash.begin() + 7, hash.end(), [](char c) {
    return c == '.' || c == '/' || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
           (c >= '0' && c <= '9');
  });
}

bool bcrypt_matches(const std::string& hash, std::string_view password) {
  if (!is_bcrypt_hash(hash)) return false;
  // crypt takes C strings: a NUL would cut the password short.
  if (password.find('\0') != std::string_view::npos) return false;
  const std::string key(password);
  // crypt_data is 32 KiB: on the heap, zeroed as crypt_rn requires.
  auto data = std::make_unique<crypt_data>();
  std::memset(data.get(), 0, sizeof *data);
  const char* computed = crypt_rn(key.c_str(), hash.c_str(), data.get(), sizeof *data);
  bool matches = false;
  if (computed != nullptr && std::strlen(computed) == hash.size()) {
    matches = CRYPTO_memcmp(computed, hash.data(), hash.size()) == 0;
  }
  // The buffer held the password; do not leave it in freed memory.
  OPENSSL_cleanse(data.get(), sizeof *data);
  return matches;
}

WebConfig parse_web_config(const std::string& yaml_text, const std::string& source) {
  return Parser(source).parse(yaml_text);
}

WebConfig load_web_config(const std::string& path) {
  return parse_web_config(yaml_text::read_config_file(path), path);
}

}  // namespace meshprobe
