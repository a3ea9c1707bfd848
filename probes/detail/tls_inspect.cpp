#include "probes/detail/tls_inspect.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <arpa/inet.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <vector>

namespace meshprobe::detail {
namespace {

std::string name_text(const X509_NAME* name) {
  BIO* bio = BIO_new(BIO_s_mem());
  X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253);
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);
  std::string out(data, static_cast<std::size_t>(len));
  BIO_free(bio);
  return out;
}

std::string serial_text(const X509* cert) {
  BIGNUM* bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), nullptr);
  if (bn == nullptr) return "";
  char* hex = BN_bn2hex(bn);
  std::string out = hex != nullptr ? hex : "";
  OPENSSL_free(hex);
  BN_free(bn);
  return out;
}

std::string fingerprint(const X509* cert) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned len = 0;
  if (X509_digest(cert, EVP_sha256(), md, &len) != 1) return "";
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < len; ++i) {
    out += kDigits[md[i] >> 4];
    out += kDigits[md[i] & 0xf];
  }
  return out;
}

WallClock::time_point asn1_time_point(const ASN1_TIME* t) {
  std::tm tm{};
  if (t == nullptr || ASN1_TIME_to_tm(t, &tm) != 1) return {};
  return WallClock::from_time_t(timegm(&tm));
}

std::vector<std::string> subject_alt_names(const X509* cert) {
  std::vector<std::string> out;
  auto* names =
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  if (names == nullptr) return out;
  const int count = sk_GENERAL_NAME_num(names);
  for (int i = 0; i < count; ++i) {
    if (out.size() == kMaxSansSummarized) {
      out.push_back("... " + std::to_string(count - i) + " more");
      break;
    }
    const GENERAL_NAME* gn = sk_GENERAL_NAME_value(names, i);
    if (gn->type == GEN_DNS) {
      const ASN1_IA5STRING* s = gn->d.dNSName;
      out.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                       static_cast<std::size_t>(ASN1_STRING_length(s)));
    } else if (gn->type == GEN_IPADD) {
      const ASN1_OCTET_STRING* ip = gn->d.iPAddress;
      char buf[INET6_ADDRSTRLEN] = {};
      const int len = ASN1_STRING_length(ip);
      if (len == 4 || len == 16) {
        inet_ntop(len == 4 ? AF_INET : AF_INET6, ASN1_STRING_get0_data(ip), buf, sizeof buf);
        out.emplace_back(buf);
      }
    } else if (gn->type == GEN_URI) {
      const ASN1_IA5STRING* s = gn->d.uniformResourceIdentifier;
      out.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                       static_cast<std::size_t>(ASN1_STRING_length(s)));
    }
  }
  GENERAL_NAMES_free(names);
  return out;
}

CertSummary summarize(const X509* cert) {
  CertSummary s;
  s.subject = name_text(X509_get_subject_name(cert));
  s.issuer = name_text(X509_get_issuer_name(cert));
  s.serial = serial_text(cert);
  s.sha256 = fingerprint(cert);
  s.not_before = asn1_time_point(X509_get0_notBefore(cert));
  s.not_after = asn1_time_point(X509_get0_notAfter(cert));
  s.sans = subject_alt_names(cert);
  return s;
}

}  // namespace

double days_until(WallClock::time_point when, WallClock::time_point now) {
  using Days = std::chrono::duration<double, std::ratio<86400>>;
  return std::chrono::duration_cast<Days>(when - now).count();
}

TlsInfo describe_session(SSL* ssl) {
  TlsInfo info;
  info.version = SSL_get_version(ssl);
  if (const SSL_CIPHER* cipher = SSL_get_current_cipher(ssl)) {
    info.cipher = SSL_CIPHER_get_name(cipher);
  }
  const unsigned char* alpn = nullptr;
  unsigned alpn_len = 0;
  SSL_get0_alpn_selected(ssl, &alpn, &alpn_len);
  if (alpn != nullptr) info.alpn.assign(reinterpret_cast<const char*>(alpn), alpn_len);

  // On the client side the peer chain starts with the leaf.
  if (STACK_OF(X509)* chain = SSL_get_peer_cert_chain(ssl)) {
    const int count = sk_X509_num(chain);
    for (int i = 0; i < count; ++i) {
      const X509* cert = sk_X509_value(chain, i);
      auto not_after = asn1_time_point(X509_get0_notAfter(cert));
      if (!info.earliest_expiry || not_after < *info.earliest_expiry) {
        info.earliest_expiry = not_after;
      }
      if (info.chain.size() < kMaxChainSummarized) info.chain.push_back(summarize(cert));
    }
  }
  return info;
}

bool prepare_verification(SSL* ssl, const CaBundle& bundle, std::string_view expected_name,
                          GoPeerCheck* check) {
  check->bundle = &bundle;
  check->server_name = std::string(expected_name);
  check->judged = false;
  check->verdict = {};
  // Go's hostnameInSNI: no SNI for an IP literal, trailing dots stripped.
  const std::string sni = go_sni_host_name(expected_name);
  // SSL_set_tlsext_host_name, without the macro's C cast.
  if (!sni.empty() && SSL_ctrl(ssl, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
                               const_cast<char*>(sni.c_str())) != 1) {
    return false;
  }
  return arm_go_verification(ssl, check);
}

bool received_chain(SSL* ssl) { return SSL_get_peer_cert_chain(ssl) != nullptr; }

Verdict verify_peer(SSL* ssl, GoPeerCheck& check) {
  STACK_OF(X509)* chain = SSL_get_peer_cert_chain(ssl);
  if (chain == nullptr || sk_X509_num(chain) == 0) {
    return {Diagnosis::tls_protocol_error, "the server presented no certificate"};
  }
  if (!check.judged) {
    // A handshake that skipped the certificate callback (only a resumed one
    // does, and tls_probe.cpp reports those from their full verification
    // without coming here): judge the chain now, once.
    std::vector<X509*> served;
    for (int i = 0; i < sk_X509_num(chain); ++i) served.push_back(sk_X509_value(chain, i));
    if (check.bundle == nullptr) {
      return {Diagnosis::local_resource, "the served chain could not be verified"};
    }
    check.verdict = go_verify_chain(served, check.bundle->go_roots(), check.server_name,
                                    std::chrono::system_clock::now());
    check.judged = true;
  }
  return {check.verdict.diagnosis, check.verdict.message()};
}

namespace {

// crypto/tls alert.go's texts, by alert number.
const char* go_alert_text(int alert) {
  switch (alert) {
    case 0: return "close notify";
    case 10: return "unexpected message";
    case 20: return "bad record MAC";
    case 21: return "decryption failed";
    case 22: return "record overflow";
    case 30: return "decompression failure";
    case 40: return "handshake failure";
    case 42: return "bad certificate";
    case 43: return "unsupported certificate";
    case 44: return "revoked certificate";
    case 45: return "expired certificate";
    case 46: return "unknown certificate";
    case 47: return "illegal parameter";
    case 48: return "unknown certificate authority";
    case 49: return "access denied";
    case 50: return "error decoding message";
    case 51: return "error decrypting message";
    case 60: return "export restriction";
    case 70: return "protocol version not supported";
    case 71: return "insufficient security level";
    case 80: return "internal error";
    case 86: return "inappropriate fallback";
    case 90: return "user canceled";
    case 100: return "no renegotiation";
    case 109: return "missing extension";
    case 110: return "unsupported extension";
    case 111: return "certificate unobtainable";
    case 112: return "unrecognized name";
    case 113: return "bad certificate status response";
    case 114: return "bad certificate hash value";
    case 115: return "unknown PSK identity";
    case 116: return "certificate required";
    case 120: return "no application protocol";
    default: return nullptr;
  }
}

// What Go's verifyHandshakeSignature says of a signature that does not
// verify, by the certificate's key type.
std::string go_signature_failure(SSL* ssl) {
  const X509* leaf = ssl != nullptr ? SSL_get0_peer_certificate(ssl) : nullptr;
  EVP_PKEY* key = leaf != nullptr ? X509_get0_pubkey(leaf) : nullptr;
  if (key != nullptr) {
    if (EVP_PKEY_is_a(key, "EC")) return "ECDSA verification failure";
    if (EVP_PKEY_is_a(key, "ED25519")) return "Ed25519 verification failure";
  }
  return "crypto/rsa: verification error";
}

}  // namespace

Verdict explain_handshake_failure(SSL* ssl, const GoPeerCheck& check, int openssl_reason,
                                  int system_errno, bool eof) {
  if (check.judged && !check.verdict.ok()) {
    return {check.verdict.diagnosis, check.verdict.message()};
  }
  if (openssl_reason == SSL_R_BAD_SIGNATURE) {
    return {Diagnosis::tls_protocol_error,
            "tls: invalid signature by the server certificate: " + go_signature_failure(ssl) +
                "; the server signed the handshake with a key that is not its certificate's: "
                "it serves a certificate and key that do not belong together"};
  }
  return classify_handshake_failure(openssl_reason, system_errno, eof);
}

Verdict classify_handshake_failure(int openssl_reason, int system_errno, bool eof) {
  if (eof) {
    return {Diagnosis::tls_protocol_error,
            "the server closed the connection during the TLS handshake"};
  }
  if (openssl_reason == 0) {
    if (system_errno == ECONNRESET) {
      return {Diagnosis::tls_protocol_error, "the connection was reset during the TLS handshake"};
    }
    return {Diagnosis::tls_protocol_error,
            std::string("TLS handshake failed: ") +
                (system_errno != 0 ? std::strerror(system_errno) : "unknown error")};
  }
  const char* reason = ERR_reason_error_string(ERR_PACK(ERR_LIB_SSL, 0, openssl_reason));
  std::string why = reason != nullptr ? reason : "reason " + std::to_string(openssl_reason);
  switch (openssl_reason) {
    case SSL_R_WRONG_VERSION_NUMBER:
    case SSL_R_PACKET_LENGTH_TOO_LONG:
    case SSL_R_HTTP_REQUEST:
    case SSL_R_HTTPS_PROXY_REQUEST:
      return {Diagnosis::tls_protocol_error,
              "tls: first record does not look like a TLS handshake; the server's answer is "
              "not TLS (" +
                  why + "): the port speaks another protocol"};
    case SSL_R_UNSUPPORTED_PROTOCOL:
    case SSL_R_TLSV1_ALERT_PROTOCOL_VERSION:
      return {Diagnosis::tls_protocol_error,
              std::string(openssl_reason == SSL_R_UNSUPPORTED_PROTOCOL
                              ? "tls: server selected unsupported protocol version"
                              : "remote error: tls: protocol version not supported") +
                  "; no TLS version in common (" + why +
                  "): the server offers only versions below TLS 1.2, which Go's TLS client "
                  "refuses"};
    case SSL_R_EXCESSIVE_MESSAGE_SIZE:
      return {Diagnosis::tls_protocol_error,
              "tls: handshake message exceeds maximum of " +
                  std::to_string(kMaxCertificateMessage) +
                  " bytes; the server's handshake message is too large (" + why +
                  "): in practice a certificate chain over " +
                  std::to_string(kMaxCertificateMessage / 1024) +
                  " KiB, more than the API server's TLS client accepts"};
    case SSL_R_WRONG_CIPHER_RETURNED:
      return {Diagnosis::tls_protocol_error,
              "tls: server chose an unconfigured cipher suite; the server picked a cipher "
              "suite Go's TLS client did not offer (" +
                  why + ")"};
    default: break;
  }
  if (openssl_reason >= SSL_AD_REASON_OFFSET && openssl_reason < SSL_AD_REASON_OFFSET + 256) {
    const int alert = openssl_reason - SSL_AD_REASON_OFFSET;
    const char* text = go_alert_text(alert);
    std::string go_text = text != nullptr
                              ? std::string("remote error: tls: ") + text
                              : "remote error: tls: alert(" + std::to_string(alert) + ")";
    std::string explanation = "the server refused the handshake with a TLS alert (" + why + ")";
    if (alert == 40) {
      explanation +=
          ": no cipher suite, group or signature algorithm in common with Go's TLS client "
          "(TLS 1.2 with ECDHE and AES-GCM, ChaCha20-Poly1305 or AES-CBC-SHA, or TLS 1.3; "
          "groups X25519, P-256, P-384, P-521)";
    }
    return {Diagnosis::tls_protocol_error, go_text + "; " + explanation};
  }
  return {Diagnosis::tls_protocol_error, "TLS handshake failed: " + why};
}

}  // namespace meshprobe::detail
