// fake_apiserver.py as a child process for gtest: an HTTPS Kubernetes API
// emulation on 127.0.0.1 with a certificate made at test time, whose
// cluster state the test writes (and rewrites) as JSON.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "kube/client/credentials.h"
#include "test/support/test_pki.h"

namespace meshprobe::test {

struct FakeApiServerOptions {
  // Client certificates that ca() issued authenticate too (--client-ca).
  bool verify_client_certs = false;
  // meshprobe-gopeer, which the admission chain calls webhooks with
  // (--gopeer); empty: dry-run creates answer 500.
  std::string gopeer;
};

class FakeApiServer {
 public:
  // Starts the emulator with `state_json`; throws when it does not come up.
  // With `verify_client_certs`, client certificates that ca() issued
  // authenticate too (--client-ca).
  explicit FakeApiServer(const std::string& state_json, bool verify_client_certs = false);
  FakeApiServer(const std::string& state_json, const FakeApiServerOptions& options);
  ~FakeApiServer();
  FakeApiServer(const FakeApiServer&) = delete;
  FakeApiServer& operator=(const FakeApiServer&) = delete;

  // False when python3 is missing: tests skip rather than fail.
  static bool available();

  // Replaces the state atomically; the next request sees it.
  void set_state(const std::string& state_json);

  std::string server() const;                                 // https://127.0.0.1:PORT
  const std::string& ca_pem() const { return ca_.cert_pem; }  // trust for server()
  const TestCa& ca() const { return ca_; }
  const std::filesystem::path& dir() const { return dir_.path(); }
  // One JSON object per request served: {"method","path","query","auth","status"}.
  std::vector<std::string> requests() const;

 private:
  TempDir dir_;
  TestCa ca_;
  pid_t pid_ = -1;
  std::uint16_t port_ = 0;
};

// Credentials that trust `server`, with a bearer token (empty: none, for
// tests that authenticate another way, e.g. an exec plugin).
kube::Credentials credentials_for(const FakeApiServer& server, std::string token = {});

}  // namespace meshprobe::test
