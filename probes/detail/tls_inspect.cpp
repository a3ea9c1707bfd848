#include "probes/detail/tls_inspect.h"

#include <arpa/inet.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

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
  auto* names = static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
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
        inet_ntop(len == 4 ? AF_INET : AF_INET6, ASN1_STRING_get0_data(ip), buf,
                  sizeof buf);
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

// Where an SSL keeps its attempt's list of chain problems.
int problems_index() {
  static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

int collect_problems(int ok, X509_STORE_CTX* ctx) {
  if (ok == 0) {
    auto* ssl = static_cast<SSL*>(
        X509_STORE_CTX_get_ex_data(ctx, SSL_get_ex_data_X509_STORE_CTX_idx()));
    auto* problems =
        ssl ? static_cast<std::vector<ChainProblem>*>(SSL_get_ex_data(ssl, problems_index()))
            : nullptr;
    if (problems == nullptr) return 0;  // not armed by prepare_verification: refuse
    problems->push_back({X509_STORE_CTX_get_error(ctx), X509_STORE_CTX_get_error_depth(ctx)});
  }
  return 1;  // keep going: every problem of the chain gets recorded
}

bool is_trust_error(int code) {
  switch (code) {
    case X509_V_ERR_HOSTNAME_MISMATCH:
    case X509_V_ERR_IP_ADDRESS_MISMATCH:
    case X509_V_ERR_CERT_HAS_EXPIRED:
    case X509_V_ERR_CERT_NOT_YET_VALID:
      return false;
    default:
      return true;
  }
}

std::string which_cert(int depth) {
  return depth == 0 ? "the server certificate"
                    : "the chain certificate at depth " + std::to_string(depth);
}

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) {
    if (!out.empty()) out += ", ";
    out += item;
  }
  return out.empty() ? "none" : out;
}

bool is_ip_literal(std::string_view name) {
  unsigned char buf[16];
  std::string s(name);
  return inet_pton(AF_INET, s.c_str(), buf) == 1 ||
         inet_pton(AF_INET6, s.c_str(), buf) == 1;
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

bool prepare_verification(SSL* ssl, X509_STORE* store, std::string_view expected_name,
                          std::vector<ChainProblem>* problems) {
  if (problems_index() < 0 || SSL_set_ex_data(ssl, problems_index(), problems) != 1 ||
      SSL_set1_verify_cert_store(ssl, store) != 1) {
    return false;
  }
  SSL_set_verify(ssl, SSL_VERIFY_PEER, collect_problems);
  const std::string name(expected_name);
  if (name.empty()) return true;
  if (is_ip_literal(name)) {
    return X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), name.c_str()) == 1;
  }
  SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
  return SSL_set1_host(ssl, name.c_str()) == 1;
}

Verdict verify_peer(SSL* ssl, const std::vector<ChainProblem>& errors,
                    std::string_view expected_name) {
  X509* leaf = SSL_get0_peer_certificate(ssl);
  if (leaf == nullptr) {
    return {Diagnosis::tls_protocol_error, "the server presented no certificate"};
  }
  if (errors.empty()) return {};

  auto find = [&](auto predicate) -> const ChainProblem* {
    for (const auto& e : errors) {
      if (predicate(e.code)) return &e;
    }
    return nullptr;
  };
  if (const ChainProblem* e = find(is_trust_error)) {
    return {Diagnosis::tls_unknown_authority,
            "x509: certificate signed by unknown authority: " + which_cert(e->depth) +
                " does not verify against the CA bundle (" +
                X509_verify_cert_error_string(e->code) + ")"};
  }
  if (const ChainProblem* e = find([](int c) { return c == X509_V_ERR_CERT_HAS_EXPIRED; })) {
    return {Diagnosis::tls_expired, which_cert(e->depth) + " has expired"};
  }
  if (const ChainProblem* e = find([](int c) { return c == X509_V_ERR_CERT_NOT_YET_VALID; })) {
    return {Diagnosis::tls_not_yet_valid, which_cert(e->depth) + " is not valid yet"};
  }
  return {Diagnosis::tls_name_mismatch,
          "the certificate does not cover " + std::string(expected_name) + " (its SANs: " +
              join(subject_alt_names(leaf)) + ")"};
}

Verdict classify_handshake_failure(int openssl_reason, int system_errno, bool eof) {
  if (eof) {
    return {Diagnosis::tls_protocol_error,
            "the server closed the connection during the TLS handshake"};
  }
  if (openssl_reason == 0) {
    if (system_errno == ECONNRESET) {
      return {Diagnosis::tls_protocol_error,
              "the connection was reset during the TLS handshake"};
    }
    return {Diagnosis::tls_protocol_error,
            std::string("TLS handshake failed: ") +
                (system_errno != 0 ? std::strerror(system_errno) : "unknown error")};
  }
  const char* reason = ERR_reason_error_string(
      ERR_PACK(ERR_LIB_SSL, 0, openssl_reason));
  std::string why = reason != nullptr ? reason : "reason " + std::to_string(openssl_reason);
  switch (openssl_reason) {
    case SSL_R_WRONG_VERSION_NUMBER:
    case SSL_R_PACKET_LENGTH_TOO_LONG:
    case SSL_R_HTTP_REQUEST:
    case SSL_R_HTTPS_PROXY_REQUEST:
      return {Diagnosis::tls_protocol_error,
              "the server's answer is not TLS (" + why +
                  "): the port speaks another protocol"};
    case SSL_R_UNSUPPORTED_PROTOCOL:
    case SSL_R_TLSV1_ALERT_PROTOCOL_VERSION:
      return {Diagnosis::tls_protocol_error,
              "no TLS version in common (" + why +
                  "): the server offers only versions below TLS 1.2"};
    case SSL_R_EXCESSIVE_MESSAGE_SIZE:
      return {Diagnosis::tls_protocol_error,
              "the server's handshake message is too large (" + why +
                  "): in practice a certificate chain over " +
                  std::to_string(kMaxCertificateMessage / 1024) +
                  " KiB, more than the API server's TLS client accepts"};
    default:
      break;
  }
  if (openssl_reason >= SSL_AD_REASON_OFFSET &&
      openssl_reason < SSL_AD_REASON_OFFSET + 256) {
    return {Diagnosis::tls_protocol_error, "the server sent a TLS alert: " + why};
  }
  return {Diagnosis::tls_protocol_error, "TLS handshake failed: " + why};
}

}  // namespace meshprobe::detail
