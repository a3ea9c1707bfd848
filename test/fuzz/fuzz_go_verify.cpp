// Served chains and CA bundles from arbitrary bytes, judged by Go's rules
// (probes/detail/go_verify.h): a verdict, never a crash. The input is DER
// certificates back to back: the first half (rounded up) is the served
// chain, leaf first, the rest the bundle. Each is also read by Go's parser
// alone, whatever OpenSSL makes of it.
#include <openssl/x509.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "probes/detail/go_verify.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  (void)meshprobe::detail::parse_go_certificate(
      std::string_view(reinterpret_cast<const char*>(data), size));
  std::vector<X509*> certs;
  const unsigned char* p = data;
  const unsigned char* end = data + size;
  while (p < end && certs.size() < 16) {
    X509* cert = d2i_X509(nullptr, &p, static_cast<long>(end - p));
    if (cert == nullptr) break;
    certs.push_back(cert);
  }
  if (!certs.empty()) {
    const std::size_t served = (certs.size() + 1) / 2;
    meshprobe::detail::GoCertPool roots(/*indexed=*/true);
    for (std::size_t i = served; i < certs.size(); ++i) {
      auto root = meshprobe::detail::parse_go_certificate(certs[i]);
      if (root->parsed()) roots.add(std::move(root));
    }
    const auto verdict = meshprobe::detail::go_verify_chain(
        std::vector<X509*>(certs.begin(), certs.begin() + static_cast<std::ptrdiff_t>(served)),
        roots, "istiod.istio-system.svc", std::chrono::system_clock::now());
    if (!verdict.ok() && verdict.go_error.empty()) __builtin_trap();
  }
  for (X509* cert : certs) X509_free(cert);
  return 0;
}
