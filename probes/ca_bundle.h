// A set of trusted CA certificates, parsed once and shared by every probe that
// verifies against it (re-reading a bundle per probe costs more than the
// handshake itself).
#pragma once

#include <cstddef>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/expected.h"

struct x509_store_st;  // OpenSSL's X509_STORE, kept out of this header.
struct x509_st;        // OpenSSL's X509.

namespace meshprobe {
namespace detail {
class GoCertPool;
}

class CaBundle {
 public:
  // Parses PEM text; `source` says where it came from (file path, "inline").
  // Fails when the text holds no certificate or a malformed one.
  static Expected<std::shared_ptr<const CaBundle>> from_pem(std::string_view pem,
                                                            std::string source);
  static Expected<std::shared_ptr<const CaBundle>> from_file(const std::string& path);
  // The operating system's trust store, read as Go reads it on Linux
  // (SSL_CERT_FILE or the first of the distributions' bundle files, then
  // SSL_CERT_DIR or /etc/ssl/certs and /etc/pki/tls/certs), on first use
  // of its certificates, as Go reads it on its first verification: reading
  // and parsing hundreds of files costs a fifth of a second and megabytes.
  static Expected<std::shared_ptr<const CaBundle>> system();
  // A bundle that trusts nothing: what a webhook without a caBundle gives the
  // API server, so every chain verified against it is an unknown authority.
  static std::shared_ptr<const CaBundle> empty(std::string source);
  // Makes OpenSSL build, on the calling thread, the process-wide tables a
  // first read of a bundle builds (providers, method caches). They live as
  // long as the process: whoever reads bundles on a short-lived thread calls
  // this first, so they are not allocated among that thread's scratch memory.
  static void prepare_openssl();

  ~CaBundle();
  CaBundle(const CaBundle&) = delete;
  CaBundle& operator=(const CaBundle&) = delete;

  const std::string& source() const { return source_; }
  std::size_t certificate_count() const;
  // SHA-256 over the DER of every certificate, in order: tells two bundles
  // apart without comparing text.
  const std::string& fingerprint() const { return fingerprint_; }

  // The certificates as read, in order (a PEM bundle's duplicates
  // included). Thread-safe, like the whole bundle.
  std::span<x509_st* const> certificates() const;
  // The same as Go's CertPool of them: the trust anchors of verification,
  // indexed by subject; a certificate Go cannot parse is left out, as
  // AppendCertsFromPEM leaves it out.
  const detail::GoCertPool& go_roots() const;

  // An OpenSSL store of the same certificates (what a plain OpenSSL client
  // would verify against; probes verify with go_roots()).
  x509_store_st* store() const { return store_; }

 private:
  CaBundle(x509_store_st* store, std::string source, std::size_t count, std::string fingerprint,
           std::vector<x509_st*> certificates);
  // Makes go_roots_ of certificates_ (the system store: reads them first).
  void load() const;

  x509_store_st* store_;
  std::string source_;
  std::string fingerprint_;
  bool system_ = false;
  // Filled once, by the constructor or (the system store) on first use.
  mutable std::once_flag loaded_;
  mutable std::size_t count_;
  mutable std::vector<x509_st*> certificates_;  // owned references
  mutable std::unique_ptr<detail::GoCertPool> go_roots_;
};

}  // namespace meshprobe
