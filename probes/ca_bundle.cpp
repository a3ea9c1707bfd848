#include "probes/ca_bundle.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "probes/detail/go_verify.h"

namespace meshprobe {
namespace {

std::string last_openssl_error() {
  unsigned long code = ERR_get_error();
  ERR_clear_error();
  if (code == 0) return "unknown error";
  char buf[256];
  ERR_error_string_n(code, buf, sizeof buf);
  return buf;
}

std::string hex(const unsigned char* data, unsigned len) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(len * 2);
  for (unsigned i = 0; i < len; ++i) {
    out += kDigits[data[i] >> 4];
    out += kDigits[data[i] & 0xf];
  }
  return out;
}

bool read_text(const std::string& path, std::string* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return false;
  *out = text.str();
  return true;
}

// AppendCertsFromPEM's leniency: every certificate block that parses.
void append_certificates(std::string_view pem, std::vector<X509*>* out) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  if (bio == nullptr) return;
  while (true) {
    X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
    if (cert != nullptr) {
      out->push_back(cert);
      continue;
    }
    const unsigned long err = ERR_peek_last_error();
    if (err == 0 ||
        (ERR_GET_LIB(err) == ERR_LIB_PEM && ERR_GET_REASON(err) == PEM_R_NO_START_LINE)) {
      break;  // the end of the input
    }
    ERR_clear_error();  // a block that does not parse: skipped, as Go skips it
  }
  ERR_clear_error();
  BIO_free(bio);
}

// Go's crypto/x509 root_linux.go and root_unix.go, in their order.
constexpr const char* kSystemCertFiles[] = {
    "/etc/ssl/certs/ca-certificates.crt",                 // Debian/Ubuntu/Gentoo etc.
    "/etc/pki/tls/certs/ca-bundle.crt",                   // Fedora/RHEL 6
    "/etc/ssl/ca-bundle.pem",                             // OpenSUSE
    "/etc/pki/tls/cacert.pem",                            // OpenELEC
    "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",  // CentOS/RHEL 7
    "/etc/ssl/cert.pem",                                  // Alpine Linux
};
constexpr const char* kSystemCertDirectories[] = {"/etc/ssl/certs", "/etc/pki/tls/certs"};

std::vector<std::string> split_colons(const std::string& s) {
  std::vector<std::string> out;
  std::size_t begin = 0;
  while (true) {
    const std::size_t at = s.find(':', begin);
    out.push_back(s.substr(begin, at - begin));
    if (at == std::string::npos) break;
    begin = at + 1;
  }
  return out;
}

// Go's loadSystemRoots: the first bundle file that reads, then every file
// of the directories but symlinks within them (the hash links). The same
// certificate read twice (a bundle file and its directory) is kept once.
std::vector<X509*> load_system_certificates() {
  std::vector<X509*> certs;
  std::vector<std::string> files(std::begin(kSystemCertFiles), std::end(kSystemCertFiles));
  if (const char* f = std::getenv("SSL_CERT_FILE"); f != nullptr && *f != '\0') files = {f};
  for (const std::string& file : files) {
    std::string text;
    if (read_text(file, &text)) {
      append_certificates(text, &certs);
      break;
    }
  }
  std::vector<std::string> dirs(std::begin(kSystemCertDirectories),
                                std::end(kSystemCertDirectories));
  if (const char* d = std::getenv("SSL_CERT_DIR"); d != nullptr && *d != '\0') {
    dirs = split_colons(d);
  }
  namespace fs = std::filesystem;
  for (const std::string& dir : dirs) {
    std::error_code ec;
    std::vector<fs::directory_entry> entries;
    for (const auto& entry : fs::directory_iterator(dir, ec)) entries.push_back(entry);
    if (ec) continue;
    std::sort(entries.begin(), entries.end(), [](const auto& a, const auto& b) {
      return a.path().filename() < b.path().filename();
    });
    for (const auto& entry : entries) {
      if (entry.is_symlink(ec)) {
        const fs::path target = fs::read_symlink(entry.path(), ec);
        if (!ec && target.native().find('/') == std::string::npos) continue;
      }
      std::string text;
      if (read_text(entry.path().string(), &text)) append_certificates(text, &certs);
    }
  }
  std::vector<X509*> unique;
  for (X509* cert : certs) {
    const bool seen = std::any_of(unique.begin(), unique.end(),
                                  [&](X509* kept) { return X509_cmp(kept, cert) == 0; });
    if (seen) {
      X509_free(cert);
    } else {
      unique.push_back(cert);
    }
  }
  return unique;
}

}  // namespace

CaBundle::CaBundle(X509_STORE* store, std::string source, std::size_t count,
                   std::string fingerprint, std::vector<X509*> certificates)
    : store_(store),
      source_(std::move(source)),
      fingerprint_(std::move(fingerprint)),
      count_(count),
      certificates_(std::move(certificates)) {
  system_ = fingerprint_ == "system";
  // A file's bundle is parsed once, here, for every probe that verifies
  // against it; the system store on first use.
  if (!system_) load();
}

void CaBundle::load() const {
  std::call_once(loaded_, [this] {
    if (system_) {
      certificates_ = load_system_certificates();
      count_ = certificates_.size();
    }
    go_roots_ = std::make_unique<detail::GoCertPool>(/*indexed=*/true);
    for (X509* cert : certificates_) {
      auto parsed = detail::parse_go_certificate(cert);
      if (parsed->parsed()) go_roots_->add(std::move(parsed));
    }
  });
}

std::size_t CaBundle::certificate_count() const {
  load();
  return count_;
}

std::span<X509* const> CaBundle::certificates() const {
  load();
  return certificates_;
}

const detail::GoCertPool& CaBundle::go_roots() const {
  load();
  return *go_roots_;
}

CaBundle::~CaBundle() {
  X509_STORE_free(store_);
  for (X509* cert : certificates_) X509_free(cert);
}

Expected<std::shared_ptr<const CaBundle>> CaBundle::from_pem(std::string_view pem,
                                                             std::string source) {
  ERR_clear_error();
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  if (bio == nullptr) return Error{source + ": out of memory"};
  X509_STORE* store = X509_STORE_new();
  EVP_MD_CTX* digest = EVP_MD_CTX_new();
  EVP_DigestInit_ex(digest, EVP_sha256(), nullptr);

  std::size_t count = 0;
  std::string failure;
  std::vector<X509*> certificates;
  while (X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr)) {
    unsigned char* der = nullptr;
    int der_len = i2d_X509(cert, &der);
    if (der_len > 0) {
      EVP_DigestUpdate(digest, der, static_cast<std::size_t>(der_len));
      OPENSSL_free(der);
    }
    // A duplicate certificate is harmless; any other failure is not.
    if (X509_STORE_add_cert(store, cert) != 1) {
      unsigned long err = ERR_peek_last_error();
      if (ERR_GET_REASON(err) != X509_R_CERT_ALREADY_IN_HASH_TABLE) {
        failure = last_openssl_error();
      }
      ERR_clear_error();
    }
    certificates.push_back(cert);
    ++count;
  }
  // PEM_read_bio_X509 ends with "no start line" at the end of input; anything
  // else means a certificate block that does not parse.
  unsigned long err = ERR_peek_last_error();
  if (err != 0 &&
      !(ERR_GET_LIB(err) == ERR_LIB_PEM && ERR_GET_REASON(err) == PEM_R_NO_START_LINE)) {
    failure = "malformed certificate: " + last_openssl_error();
  }
  ERR_clear_error();
  BIO_free(bio);

  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned md_len = 0;
  EVP_DigestFinal_ex(digest, md, &md_len);
  EVP_MD_CTX_free(digest);

  if (failure.empty() && count == 0) failure = "no PEM certificate found";
  if (!failure.empty()) {
    X509_STORE_free(store);
    for (X509* cert : certificates) X509_free(cert);
    return Error{source + ": " + failure};
  }
  return std::shared_ptr<const CaBundle>(
      new CaBundle(store, std::move(source), count, hex(md, md_len), std::move(certificates)));
}

Expected<std::shared_ptr<const CaBundle>> CaBundle::from_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    const int error = errno;
    return Error{path + ": cannot open CA bundle file: " + std::strerror(error), error};
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) {
    const int error = errno;
    return Error{path + ": read error: " + std::strerror(error), error};
  }
  return from_pem(text.str(), path);
}

Expected<std::shared_ptr<const CaBundle>> CaBundle::system() {
  X509_STORE* store = X509_STORE_new();
  if (store == nullptr || X509_STORE_set_default_paths(store) != 1) {
    X509_STORE_free(store);
    return Error{"system trust store: " + last_openssl_error()};
  }
  return std::shared_ptr<const CaBundle>(new CaBundle(store, "system", 0, "system", {}));
}

std::shared_ptr<const CaBundle> CaBundle::empty(std::string source) {
  return std::shared_ptr<const CaBundle>(
      new CaBundle(X509_STORE_new(), std::move(source), 0, "empty", {}));
}

void CaBundle::prepare_openssl() {
  // An empty bundle takes every step a real one does, up to the failure.
  (void)from_pem("", "OpenSSL preparation");
}

}  // namespace meshprobe
