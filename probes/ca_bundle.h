// A set of trusted CA certificates, parsed once and shared by every probe that
// verifies against it (re-reading a bundle per probe costs more than the
// handshake itself).
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "common/expected.h"

struct x509_store_st;  // OpenSSL's X509_STORE, kept out of this header.

namespace meshprobe {

class CaBundle {
 public:
  // Parses PEM text; `source` says where it came from (file path, "inline").
  // Fails when the text holds no certificate or a malformed one.
  static Expected<std::shared_ptr<const CaBundle>> from_pem(
      std::string_view pem, std::string source);
  static Expected<std::shared_ptr<const CaBundle>> from_file(
      const std::string& path);
  // The operating system's default trust store.
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
  std::size_t certificate_count() const { return count_; }
  // SHA-256 over the DER of every certificate, in order: tells two bundles
  // apart without comparing text.
  const std::string& fingerprint() const { return fingerprint_; }

  x509_store_st* store() const { return store_; }

 private:
  CaBundle(x509_store_st* store, std::string source, std::size_t count,
           std::string fingerprint);

  x509_store_st* store_;
  std::string source_;
  std::size_t count_;
  std::string fingerprint_;
};

}  // namespace meshprobe
