// Owning pointers and PEM conversions for the OpenSSL objects the test
// support code creates. Failures throw std::runtime_error with OpenSSL's reason.
#pragma once

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace meshprobe::test {

template <auto Free>
struct OpenSslDeleter {
  template <class T>
  void operator()(T* p) const {
    Free(p);
  }
};

using BioPtr = std::unique_ptr<BIO, OpenSslDeleter<BIO_free_all>>;
using BignumPtr = std::unique_ptr<BIGNUM, OpenSslDeleter<BN_free>>;
using EvpPkeyPtr = std::unique_ptr<EVP_PKEY, OpenSslDeleter<EVP_PKEY_free>>;
using SslCtxPtr = std::unique_ptr<SSL_CTX, OpenSslDeleter<SSL_CTX_free>>;
using SslPtr = std::unique_ptr<SSL, OpenSslDeleter<SSL_free>>;
using X509Ptr = std::unique_ptr<X509, OpenSslDeleter<X509_free>>;
using X509ExtensionPtr = std::unique_ptr<X509_EXTENSION, OpenSslDeleter<X509_EXTENSION_free>>;

// Throws std::runtime_error: `what` and the queued OpenSSL errors.
[[noreturn]] void throw_openssl_error(const std::string& what);

// Every certificate in `pem`, in order; throws when there is none.
std::vector<X509Ptr> read_certificates(std::string_view pem);
EvpPkeyPtr read_private_key(std::string_view pem);

std::string to_pem(X509* certificate);
std::string to_pem(EVP_PKEY* private_key);

}  // namespace meshprobe::test
