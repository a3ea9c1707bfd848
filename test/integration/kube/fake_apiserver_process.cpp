#include "fake_apiserver_process.h"

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <utility>

extern char** environ;

namespace meshprobe::test {
namespace {

std::string script() { return MESHPROBE_FAKE_APISERVER; }

}  // namespace

bool FakeApiServer::available() { return ::system("command -v python3 >/dev/null 2>&1") == 0; }

FakeApiServer::FakeApiServer(const std::string& state_json, bool verify_client_certs)
    : FakeApiServer(state_json, FakeApiServerOptions{.verify_client_certs = verify_client_certs,
                                                     .gopeer = {}}) {}

FakeApiServer::FakeApiServer(const std::string& state_json, const FakeApiServerOptions& options)
    : ca_(TestCa::create("fake kube-apiserver CA")) {
  const TestCert leaf =
      ca_.issue(LeafSpec{.common_name = "kube-apiserver", .sans = {"127.0.0.1"}, .validity = {}});
  const PemFiles files = leaf.write(dir(), "apiserver");
  set_state(state_json);
  const std::string port_file = (dir() / "port").string();
  std::vector<std::string> args = {"python3",     script(),
                                   "--state",     (dir() / "state.json").string(),
                                   "--cert",      files.cert.string(),
                                   "--key",       files.key.string(),
                                   "--port-file", port_file,
                                   "--log",       (dir() / "requests.log").string()};
  if (!options.gopeer.empty()) {
    args.push_back("--gopeer");
    args.push_back(options.gopeer);
  }
  if (options.verify_client_certs) {
    args.push_back("--client-ca");
    args.push_back((dir() / "apiserver-ca.pem").string());
    write_file(dir() / "apiserver-ca.pem", ca_.cert_pem);
  }
  std::vector<char*> argv;
  for (std::string& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);
  if (posix_spawnp(&pid_, "python3", nullptr, nullptr, argv.data(), environ) != 0) {
    throw std::runtime_error("cannot start python3");
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  while (std::chrono::steady_clock::now() < deadline) {
    std::ifstream in(port_file);
    int port = 0;
    if (in >> port && port > 0) {
      port_ = static_cast<std::uint16_t>(port);
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  kill(pid_, SIGKILL);
  waitpid(pid_, nullptr, 0);
  throw std::runtime_error("the emulated API server did not start");
}

FakeApiServer::~FakeApiServer() {
  if (pid_ > 0) {
    kill(pid_, SIGTERM);
    waitpid(pid_, nullptr, 0);
  }
}

void FakeApiServer::set_state(const std::string& state_json) {
  write_file(dir() / "state.tmp", state_json);
  std::filesystem::rename(dir() / "state.tmp", dir() / "state.json");
}

std::string FakeApiServer::server() const { return "https://127.0.0.1:" + std::to_string(port_); }

std::vector<std::string> FakeApiServer::requests() const {
  std::ifstream in(dir() / "requests.log");
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

kube::Credentials credentials_for(const FakeApiServer& server, std::string token) {
  kube::Credentials c;
  c.server = server.server();
  c.ca_pem = server.ca_pem();
  c.token = std::move(token);
  c.description = "test";
  return c;
}

}  // namespace meshprobe::test
