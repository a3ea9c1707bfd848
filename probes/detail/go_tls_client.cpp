// Go's TLS client as the callers configure it, on an OpenSSL context: the
// versions, suites, groups and signature algorithms of crypto/tls, and the
// certificate callback through which Go's verifier (go_verify.cpp) judges
// the served chain inside the handshake.
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include <chrono>
#include <vector>

#include "probes/ca_bundle.h"
#include "probes/detail/go_verify.h"

namespace meshprobe::detail {

namespace {

// Go's default client cipher suites for TLS 1.2 (1.23 and later: ECDHE
// only; no RSA key exchange since 1.22, no 3DES since 1.23), in Go's order.
constexpr const char* kTls12Suites =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"
    "ECDHE-ECDSA-AES128-SHA:ECDHE-RSA-AES128-SHA:"
    "ECDHE-ECDSA-AES256-SHA:ECDHE-RSA-AES256-SHA";
constexpr const char* kTls13Suites =
    "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256";
constexpr const char* kGroups = "X25519:P-256:P-384:P-521";
// crypto/tls defaultSupportedSignatureAlgorithms.
constexpr const char* kSignatureAlgorithms =
    "rsa_pss_rsae_sha256:ecdsa_secp256r1_sha256:ed25519:rsa_pss_rsae_sha384:"
    "rsa_pss_rsae_sha512:rsa_pkcs1_sha256:rsa_pkcs1_sha384:rsa_pkcs1_sha512:"
    "ecdsa_secp384r1_sha384:ecdsa_secp521r1_sha512:rsa_pkcs1_sha1:ECDSA+SHA1";

int check_index() {
  static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

// OpenSSL's whole chain verification, replaced: Go's verdict is the verdict.
int go_cert_verify_callback(X509_STORE_CTX* ctx, void*) {
  auto* ssl =
      static_cast<SSL*>(X509_STORE_CTX_get_ex_data(ctx, SSL_get_ex_data_X509_STORE_CTX_idx()));
  auto* check =
      ssl != nullptr ? static_cast<GoPeerCheck*>(SSL_get_ex_data(ssl, check_index())) : nullptr;
  if (check == nullptr || check->bundle == nullptr) {
    X509_STORE_CTX_set_error(ctx, X509_V_ERR_APPLICATION_VERIFICATION);
    return 0;  // not armed: refuse rather than trust
  }
  std::vector<X509*> served;
  if (STACK_OF(X509)* chain = X509_STORE_CTX_get0_untrusted(ctx)) {
    const int count = sk_X509_num(chain);
    served.reserve(static_cast<std::size_t>(count));
    for (int i = 0; i < count; ++i) served.push_back(sk_X509_value(chain, i));
  } else if (X509* leaf = X509_STORE_CTX_get0_cert(ctx)) {
    served.push_back(leaf);
  }
  check->verdict = go_verify_chain(served, check->bundle->go_roots(), check->server_name,
                                   std::chrono::system_clock::now());
  check->judged = true;
  if (check->verdict.ok()) {
    X509_STORE_CTX_set_error(ctx, X509_V_OK);
    return 1;
  }
  // The alert Go sends: unsupported_certificate for a key type it cannot
  // use, bad_certificate otherwise.
  const bool unsupported =
      check->verdict.go_error.starts_with("tls: server's certificate contains an unsupported");
  X509_STORE_CTX_set_error(ctx,
                           unsupported ? X509_V_ERR_INVALID_PURPOSE : X509_V_ERR_CERT_REJECTED);
  return 0;
}

}  // namespace

bool apply_go_client_defaults(SSL_CTX* ctx) {
  // Security level 0: which keys and signatures are acceptable is Go's
  // rule, applied by the verifier; what is offered is set explicitly below.
  SSL_CTX_set_security_level(ctx, 0);
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  SSL_CTX_set_cert_verify_callback(ctx, go_cert_verify_callback, nullptr);
  return SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) == 1 &&
         SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION) == 1 &&
         SSL_CTX_set_cipher_list(ctx, kTls12Suites) == 1 &&
         SSL_CTX_set_ciphersuites(ctx, kTls13Suites) == 1 &&
         SSL_CTX_set1_groups_list(ctx, kGroups) == 1 &&
         SSL_CTX_set1_sigalgs_list(ctx, kSignatureAlgorithms) == 1 && check_index() >= 0;
}

bool arm_go_verification(SSL* ssl, GoPeerCheck* check) {
  if (check_index() < 0 || SSL_set_ex_data(ssl, check_index(), check) != 1) return false;
  SSL_set_verify(ssl, SSL_VERIFY_PEER, nullptr);
  return true;
}

}  // namespace meshprobe::detail
