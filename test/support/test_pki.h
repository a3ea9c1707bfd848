// Certificates made at test time: an EC P-256 CA and leaves it signs, with the
// SANs, subject and validity window a test needs (including broken ones:
// expired, not yet valid, wrong names).
#pragma once

#include <chrono>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace meshprobe::test {

// A validity window as offsets from the moment the certificate is made.
struct Validity {
  std::chrono::seconds not_before_offset = std::chrono::hours(-1);
  std::chrono::seconds not_after_offset = std::chrono::hours(24 * 30);
};

struct LeafSpec {
  // Empty means an empty subject, as istiod's own leaf has.
  std::string common_name;
  // DNS names and IP literals; IP literals become IP-address SANs.
  std::vector<std::string> sans;
  Validity validity;
};

struct PemFiles {
  std::filesystem::path cert;
  std::filesystem::path key;
};

struct TestCert {
  std::string cert_pem;
  std::string key_pem;  // PKCS#8
  // As written in the certificate (whole seconds).
  std::chrono::system_clock::time_point not_before;
  std::chrono::system_clock::time_point not_after;

  // Writes DIR/STEM.pem and DIR/STEM-key.pem.
  PemFiles write(const std::filesystem::path& dir, std::string_view stem) const;
};

struct TestCa : TestCert {
  // A self-signed CA certificate (CA:TRUE, keyCertSign) with subject CN=`common_name`.
  static TestCa create(const std::string& common_name,
                       Validity validity = {std::chrono::hours(-1), std::chrono::hours(24 * 3650)});

  // A server leaf (CA:FALSE, serverAuth) signed by this CA.
  TestCert issue(const LeafSpec& spec) const;
};

// A fresh directory under the system temp dir, removed with its contents on
// destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// Writes `text` to `file`, replacing it; throws std::runtime_error on failure.
void write_file(const std::filesystem::path& file, std::string_view text);

}  // namespace meshprobe::test
