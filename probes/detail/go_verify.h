// Verification of a served chain by the rules of Go's crypto/x509 and
// crypto/tls client: what kube-apiserver (net/http, RootCAs = the webhook's
// caBundle, ServerName = the Service name) and pilot-agent (grpc-go) decide
// about the same chain. OpenSSL is a primitive here: it holds the parsed
// certificates and checks the signatures once Go's algorithm rules have
// passed; which chain is trusted, and why not, is decided by Go's algorithm:
//
//   crypto/tls  parse every served certificate (x509.ParseCertificate), RSA
//               keys over 8192 bits refused;
//   x509        Certificate.Verify: leaf isValid (critical extensions,
//               validity), VerifyHostname, the leaf in the roots or
//               buildChains (roots first, then the served intermediates;
//               every candidate by subject, AKID/SKID order; 100 signature
//               checks; CheckSignatureFrom; isValid of each parent: validity,
//               name constraints, basic constraints, path length), then the
//               EKU nesting check;
//   crypto/tls  the leaf's key type; RSA keys under 1024 bits (Go 1.24).
//
// meshprobe follows the Go release current Kubernetes and Istio are built
// with (1.23/1.24); where that differs from older Go, the rule here is the
// newer one (see test/support/gopeer/cases.go, the `drift` notes).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "probes/diagnosis.h"

struct x509_st;
struct ssl_ctx_st;
struct ssl_st;

namespace meshprobe {
class CaBundle;
}

namespace meshprobe::detail {

// A certificate time as Go's time.Time holds it.
struct GoTime {
  std::int64_t seconds = 0;  // since the Unix epoch, UTC
  std::int32_t nanos = 0;
  std::int32_t offset_minutes = 0;  // the zone it was written in, for printing
};

enum class GoPublicKeyAlgorithm { unknown, rsa, dsa, ecdsa, ed25519 };

// The dynamic type of Go's Certificate.PublicKey (what `%T` prints).
enum class GoKeyType { none, rsa, dsa, ecdsa, ed25519, ecdh };

enum class GoSignatureAlgorithm {
  unknown,
  md2_rsa,
  md5_rsa,
  sha1_rsa,
  sha256_rsa,
  sha384_rsa,
  sha512_rsa,
  dsa_sha1,
  dsa_sha256,
  ecdsa_sha1,
  ecdsa_sha256,
  ecdsa_sha384,
  ecdsa_sha512,
  sha256_rsapss,
  sha384_rsapss,
  sha512_rsapss,
  ed25519,
};

// Go's ExtKeyUsage values, in Go's numbering.
enum class GoExtKeyUsage : int {
  any = 0,
  server_auth,
  client_auth,
  code_signing,
  email_protection,
  ipsec_end_system,
  ipsec_tunnel,
  ipsec_user,
  time_stamping,
  ocsp_signing,
  microsoft_server_gated_crypto,
  netscape_server_gated_crypto,
  microsoft_commercial_code_signing,
  microsoft_kernel_code_signing,
};

struct GoIpNet {
  std::string ip;    // 4 or 16 bytes
  std::string mask;  // as long as ip
};

struct GoNameConstraints {
  std::vector<std::string> permitted_dns, excluded_dns;
  std::vector<std::string> permitted_email, excluded_email;
  std::vector<std::string> permitted_uri, excluded_uri;
  std::vector<GoIpNet> permitted_ip, excluded_ip;
};

// One certificate as Go's x509.ParseCertificate sees it: the fields Go's
// verification reads. Immutable once made; the bundle's are shared by every
// probe.
struct GoCert {
  GoCert() = default;
  GoCert(const GoCert&) = delete;
  GoCert& operator=(const GoCert&) = delete;
  ~GoCert();

  x509_st* x509 = nullptr;  // OpenSSL's parse of the same bytes (owned reference)
  std::string der;          // Certificate.Raw
  // Go's ParseCertificate error ("" when Go parses it): such a certificate
  // fails the handshake when served and is skipped in a CA bundle.
  std::string parse_error;

  // Views into `der`.
  std::string_view raw_tbs, raw_subject, raw_issuer, raw_spki;
  std::string_view signature;  // the signature BIT STRING's bytes
  std::string_view san_value;  // the SAN extension's value (has_san)
  std::string_view authority_key_id, subject_key_id;

  int version = 0;  // 1..3, as Go numbers them
  GoSignatureAlgorithm signature_algorithm = GoSignatureAlgorithm::unknown;
  GoPublicKeyAlgorithm public_key_algorithm = GoPublicKeyAlgorithm::unknown;
  GoKeyType key_type = GoKeyType::none;
  int rsa_bits = 0;  // the modulus length of an RSA key
  GoTime not_before, not_after;
  std::string common_name;         // the last CN, as Go's pkix.Name keeps it
  std::string first_organization;  // Organization[0]

  bool has_san = false;
  std::vector<std::string> dns_names;
  std::vector<std::string> ip_addresses;  // raw, 4 or 16 bytes
  std::vector<std::string> email_addresses;
  std::vector<std::string> uris;

  bool has_name_constraints = false;
  GoNameConstraints name_constraints;

  bool basic_constraints_valid = false;
  bool is_ca = false;
  std::int64_t max_path_len = 0;  // -1: basicConstraints without pathLen
  unsigned key_usage = 0;         // Go's KeyUsage bits
  std::vector<GoExtKeyUsage> ext_key_usage;
  bool has_unknown_ext_key_usage = false;
  bool unhandled_critical_extension = false;

  bool parsed() const { return parse_error.empty(); }
};

// Parses `x509`'s DER by Go's rules. Takes a reference to `x509`.
std::shared_ptr<const GoCert> parse_go_certificate(x509_st* x509);
// The same from DER bytes alone (OpenSSL parses them too, for the key;
// without OpenSSL's parse, x509 is null).
std::shared_ptr<const GoCert> parse_go_certificate(std::string_view der);

// A CertPool: certificates by subject, without duplicates (the same DER).
class GoCertPool {
 public:
  // An indexed pool looks certificates up by hash (a CA bundle, made once);
  // a plain one by a scan (the few intermediates a server serves).
  explicit GoCertPool(bool indexed = false) : indexed_(indexed) {}
  GoCertPool(GoCertPool&&) = default;
  GoCertPool& operator=(GoCertPool&&) = default;

  // Adds a parsed certificate; false when the same DER is already in.
  bool add(std::shared_ptr<const GoCert> cert);
  bool contains(const GoCert& cert) const;
  // Go's findPotentialParents: the certificates whose subject is `child`'s
  // issuer, those whose key id matches the child's AKID first, then those
  // where one side has no key id, then the rest.
  void potential_parents(const GoCert& child, std::vector<const GoCert*>& out) const;
  std::size_t size() const { return certs_.size(); }
  const std::vector<std::shared_ptr<const GoCert>>& certificates() const { return certs_; }

 private:
  bool indexed_;
  std::vector<std::shared_ptr<const GoCert>> certs_;
  // Views into the certificates' DER, which certs_ keeps alive.
  std::unordered_map<std::string_view, std::vector<std::size_t>> by_subject_;
  std::unordered_set<std::string_view> der_;
};

// What Go would say about a served chain.
struct GoVerdict {
  Diagnosis diagnosis = Diagnosis::ok;
  std::string go_error;     // Go's error text, verbatim ("" when accepted)
  std::string explanation;  // meshprobe's plain words: which certificate, what to fix
  bool ok() const { return diagnosis == Diagnosis::ok; }
  // go_error, then the explanation.
  std::string message() const;
};

// Judges `served` (the peer's chain as received, leaf first) against the
// bundle's certificates, the server name the client asks for (a DNS name or
// an IP literal; "" checks no name), at `now`: Go's first error or ok.
GoVerdict go_verify_chain(std::span<x509_st* const> served, const GoCertPool& roots,
                          std::string_view server_name, std::chrono::system_clock::time_point now);

// The server name a Go client sends in SNI for `name`: none for an IP
// literal (bracketed or with a zone), trailing dots stripped.
std::string go_sni_host_name(std::string_view name);

// What one handshake's verification needs and leaves: armed on the SSL by
// arm_go_verification, judged when the server's Certificate arrives.
struct GoPeerCheck {
  // Its go_roots() are read when the chain arrives: the system store is
  // loaded only when a chain is to be judged against it.
  const CaBundle* bundle = nullptr;
  std::string server_name;
  bool judged = false;
  GoVerdict verdict;
  // Judged and refused: the handshake failed there, as Go's does.
  bool refused() const { return judged && !verdict.ok(); }
};

// Go's TLS client settings on `ctx`: TLS 1.2 and 1.3 only; Go's default
// client cipher suites (TLS 1.2: ECDHE with AES-GCM, ChaCha20-Poly1305 and
// AES-CBC-SHA; all three TLS 1.3 suites); groups X25519, P-256, P-384,
// P-521; Go's signature algorithms; no renegotiation; and the served chain
// judged by go_verify_chain instead of OpenSSL's verification (a handshake
// on an SSL not armed with arm_go_verification is refused). False: OpenSSL
// refused a setting.
bool apply_go_client_defaults(ssl_ctx_st* ctx);

// Makes the handshake on `ssl` (whose context has Go's defaults) judge the
// served chain into `check`, and fail as Go's does when the chain is
// refused. `check` must outlive the handshake.
bool arm_go_verification(ssl_st* ssl, GoPeerCheck* check);

}  // namespace meshprobe::detail
