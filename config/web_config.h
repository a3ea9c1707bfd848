// The endpoint's web config: TLS and basic auth for /metrics, /status and /,
// in the file format of the Prometheus exporters (exporter-toolkit's
// web-config.yml), so one file serves node_exporter and meshprobe alike:
//
//   tls_server_config:
//     cert_file: server.pem           # chain, leaf first
//     key_file: server-key.pem
//     client_ca_file: clients.pem     # optional
//     client_auth_type: RequireAndVerifyClientCert   # default NoClientCert
//     min_version: TLS12              # TLS12 (default) or TLS13
//     max_version: TLS13
//   basic_auth_users:
//     prometheus: $2y$10$...          # bcrypt hashes only
//
// Loaded as strictly as the agent's config: unknown keys are refused with
// FILE:LINE. No OpenSSL or libcrypt type appears here.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

struct ssl_ctx_st;  // OpenSSL's SSL_CTX

namespace meshprobe {

// exporter-toolkit's names, which are Go's tls.ClientAuthType.
enum class ClientAuthType {
  no_client_cert,                  // NoClientCert (the default)
  request_client_cert,             // RequestClientCert: asked for, not verified
  require_any_client_cert,         // RequireAnyClientCert: required, not verified
  verify_client_cert_if_given,     // VerifyClientCertIfGiven
  require_and_verify_client_cert,  // RequireAndVerifyClientCert
};

enum class TlsVersion { tls12, tls13 };

struct WebTlsConfig {
  // Absolute, or taken relative to the web config file's directory.
  std::string cert_file;
  std::string key_file;
  std::string client_ca_file;  // empty: none
  ClientAuthType client_auth = ClientAuthType::no_client_cert;
  TlsVersion min_version = TlsVersion::tls12;
  TlsVersion max_version = TlsVersion::tls13;
  int line = 0;  // of `tls_server_config`
  // The server context built from the files when the config was loaded: a
  // config that loads is one whose certificate, key and CAs are usable.
  std::shared_ptr<ssl_ctx_st> context;
};

struct WebConfig {
  std::string source;  // the file; empty: no web config (plain HTTP, no auth)
  std::optional<WebTlsConfig> tls;
  // User name -> bcrypt hash ($2a$, $2b$ or $2y$). Empty: no authentication.
  std::map<std::string, std::string, std::less<>> basic_auth_users;

  bool requires_auth() const { return !basic_auth_users.empty(); }
};

// Reads and validates the web config at `path`, and loads its TLS files.
// Throws ConfigError ("FILE:LINE: message"); messages never contain a hash
// or any part of a key.
WebConfig load_web_config(const std::string& path);

// The same for text already in memory; `source` names it in messages and is
// the directory relative file names are taken from.
WebConfig parse_web_config(const std::string& yaml_text, const std::string& source);

// Builds the server SSL_CTX for `tls` (what load_web_config stores in
// WebTlsConfig::context): certificate chain and key, checked to match; the
// client CAs and verification mode; the version range. Throws ConfigError
// naming `source` and the offending file.
std::shared_ptr<ssl_ctx_st> make_server_tls_context(const WebTlsConfig& tls,
                                                    const std::string& source);

// Whether `password` matches the bcrypt `hash` (libxcrypt's crypt_rn; the
// result is compared in constant time). False for a malformed hash.
bool bcrypt_matches(const std::string& hash, std::string_view password);

// Whether `hash` has the form of a bcrypt hash the endpoint accepts:
// $2a$/$2b$/$2y$, a cost from 04 to 16 (libxcrypt takes up to 31, but every
// wrong password pays the cost in full), 53 characters of salt and digest.
bool is_bcrypt_hash(std::string_view hash);

}  // namespace meshprobe
