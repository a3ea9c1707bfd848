// meshprobe-testpeer: the test servers as a command, for shell-driven tests
// that run meshprobe against peers in network namespaces.
//
//   meshprobe-testpeer pki DIR [--san NAME]... [--expired]
//   meshprobe-testpeer serve --listen ADDR:PORT --mode MODE [--cert F --key F]
//                      [--status N] [--path-status PATH=N]... [--delay-ms N] [--hang]
//                      [--also-h2] [--no-h2] [--no-settings]
//   meshprobe-testpeer dns --listen ADDR:PORT [--a NAME=IPV4]... [--aaaa NAME=IPV6]...
//                      [--nxdomain NAME]... [--servfail NAME]... [--drop NAME]...
//
// serve and dns print "ready" once listening and run until SIGTERM or SIGINT.

#include <CLI/CLI.hpp>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "test/support/dns_test_server.h"
#include "test/support/posix_socket.h"
#include "test/support/test_pki.h"
#include "test/support/tls_test_server.h"

namespace {

using namespace meshprobe::test;

sigset_t termination_signals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  return signals;
}

// Called before any server thread starts: the threads inherit the mask, so
// the signals reach only the sigwait below and the destructors run normally.
void block_termination_signals() {
  sigset_t signals = termination_signals();
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
}

void announce_ready_and_wait_for_termination() {
  std::cout << "ready" << std::endl;
  sigset_t signals = termination_signals();
  int signal_number = 0;
  sigwait(&signals, &signal_number);
}

HostPort parse_listen(const std::string& text) {
  auto listen = parse_host_port(text);
  if (!listen) throw std::runtime_error("--listen wants IP:PORT or [IPV6]:PORT, got " + text);
  return *listen;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// "NAME=VALUE" split at the first '='.
std::pair<std::string, std::string> split_assignment(const std::string& text) {
  auto equals = text.find('=');
  if (equals == std::string::npos || equals == 0) {
    throw std::runtime_error("expected NAME=VALUE, got " + text);
  }
  return {text.substr(0, equals), text.substr(equals + 1)};
}

struct PkiArgs {
  std::string dir;
  std::vector<std::string> sans;
  bool expired = false;
};

int run_pki(const PkiArgs& args) {
  std::filesystem::create_directories(args.dir);
  TestCa ca = TestCa::create("meshprobe test root");
  TestCa other_ca = TestCa::create("meshprobe other root");
  // Like istiod's own leaf: empty subject, identity in the SANs only.
  TestCert leaf = ca.issue(LeafSpec{.common_name = "", .sans = args.sans, .validity = {}});
  std::filesystem::path dir(args.dir);
  write_file(dir / "ca.pem", ca.cert_pem);
  write_file(dir / "other-ca.pem", other_ca.cert_pem);
  leaf.write(dir, "leaf");
  if (args.expired) {
    // The same identity as leaf.pem, signed by the same CA, expired a day ago:
    // what istiod serves when its certificate rotation has stopped.
    TestCert expired =
        ca.issue(LeafSpec{.common_name = "",
                          .sans = args.sans,
                          .validity = {std::chrono::hours(-24 * 30), std::chrono::hours(-24)}});
    expired.write(dir, "expired");
  }
  return 0;
}

struct ServeArgs {
  std::string listen;
  ServerMode mode = ServerMode::tls_http;
  std::string cert_file;
  std::string key_file;
  int status = 200;
  std::vector<std::string> path_status;
  int delay_ms = 0;
  bool hang = false;
  bool also_h2 = false;
  bool no_h2 = false;
  bool no_settings = false;
};

int run_serve(const ServeArgs& args) {
  HostPort listen = parse_listen(args.listen);
  ServerOptions options;
  options.mode = args.mode;
  options.listen_ip = listen.host;
  options.port = listen.port;
  if (args.mode == ServerMode::tls_http || args.mode == ServerMode::tls_h2) {
    if (args.cert_file.empty() || args.key_file.empty()) {
      throw std::runtime_error("TLS modes need --cert and --key");
    }
    options.cert_chain_pem = read_file(args.cert_file);
    options.key_pem = read_file(args.key_file);
  }
  options.status = args.status;
  for (const std::string& entry : args.path_status) {
    auto [path, status] = split_assignment(entry);
    std::size_t used = 0;
    int code = 0;
    try {
      code = std::stoi(status, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (path.front() != '/' || used != status.size() || code < 100 || code > 999) {
      throw std::runtime_error("--path-status wants /PATH=STATUS, got " + entry);
    }
    options.status_by_path[path] = code;
  }
  options.response_delay = std::chrono::milliseconds(args.delay_ms);
  options.hang = args.hang;
  options.http_also_h2 = args.also_h2;
  options.offer_h2 = !args.no_h2;
  options.send_settings = !args.no_settings;

  block_termination_signals();
  TlsTestServer server(std::move(options));
  announce_ready_and_wait_for_termination();
  return 0;
}

struct DnsArgs {
  std::string listen;
  std::vector<std::string> a;
  std::vector<std::string> aaaa;
  std::vector<std::string> nxdomain;
  std::vector<std::string> servfail;
  std::vector<std::string> drop;
};

int run_dns(const DnsArgs& args) {
  HostPort listen = parse_listen(args.listen);
  DnsZone zone;
  for (const std::string& record : args.a) {
    auto [name, ip] = split_assignment(record);
    if (!zone.add_a(name, ip)) throw std::runtime_error("--a wants NAME=IPV4, got " + record);
  }
  for (const std::string& record : args.aaaa) {
    auto [name, ip] = split_assignment(record);
    if (!zone.add_aaaa(name, ip)) throw std::runtime_error("--aaaa wants NAME=IPV6, got " + record);
  }
  for (const std::string& name : args.nxdomain) zone.set_behaviour(name, NameBehaviour::nxdomain);
  for (const std::string& name : args.servfail) zone.set_behaviour(name, NameBehaviour::servfail);
  for (const std::string& name : args.drop) zone.set_behaviour(name, NameBehaviour::drop);

  block_termination_signals();
  DnsTestServer server(std::move(zone), listen.host, listen.port);
  announce_ready_and_wait_for_termination();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Test peers for meshprobe: certificates, TLS/TCP servers, a DNS responder"};
  app.require_subcommand(1);

  PkiArgs pki_args;
  CLI::App* pki = app.add_subcommand(
      "pki", "write ca.pem, leaf.pem, leaf-key.pem (signed by ca.pem) and other-ca.pem to DIR");
  pki->add_option("dir", pki_args.dir, "output directory")->required();
  pki->add_option("--san", pki_args.sans, "a DNS name or IP address the leaf covers");
  pki->add_flag("--expired", pki_args.expired,
                "also write expired.pem and expired-key.pem: the leaf's twin, expired a day ago");

  ServeArgs serve_args;
  const std::map<std::string, ServerMode> modes = {{"tls_http", ServerMode::tls_http},
                                                   {"tls_h2", ServerMode::tls_h2},
                                                   {"tcp_silent", ServerMode::tcp_silent},
                                                   {"tcp_garbage", ServerMode::tcp_garbage},
                                                   {"tcp_close", ServerMode::tcp_close}};
  CLI::App* serve = app.add_subcommand("serve", "run a TLS/TCP test server");
  serve->add_option("--listen", serve_args.listen, "IP:PORT or [IPV6]:PORT")->required();
  serve->add_option("--mode", serve_args.mode)
      ->required()
      ->transform(CLI::CheckedTransformer(modes, CLI::ignore_case));
  serve->add_option("--cert", serve_args.cert_file, "PEM chain, leaf first (TLS modes)");
  serve->add_option("--key", serve_args.key_file, "PEM private key (TLS modes)");
  serve->add_option("--status", serve_args.status, "tls_http: the response status");
  serve->add_option("--path-status", serve_args.path_status,
                    "tls_http: /PATH=STATUS, the status for one request path (query ignored); "
                    "other paths get --status");
  serve->add_option("--delay-ms", serve_args.delay_ms,
                    "tls_http: wait this long after the request head before answering");
  serve->add_flag("--hang", serve_args.hang, "tls_http: read the request, never answer");
  serve->add_flag("--also-h2", serve_args.also_h2,
                  "tls_http: also select h2 when offered and answer the HTTP/2 preface with "
                  "SETTINGS (requests over h2 stay unanswered), like Go's net/http server");
  serve->add_flag("--no-h2", serve_args.no_h2, "tls_h2: do not select h2 in ALPN");
  serve->add_flag("--no-settings", serve_args.no_settings,
                  "tls_h2: leave the client preface unanswered");

  DnsArgs dns_args;
  CLI::App* dns = app.add_subcommand("dns", "run an authoritative UDP/TCP DNS responder");
  dns->add_option("--listen", dns_args.listen, "IP:PORT or [IPV6]:PORT")->required();
  dns->add_option("--a", dns_args.a, "NAME=IPV4 record");
  dns->add_option("--aaaa", dns_args.aaaa, "NAME=IPV6 record");
  dns->add_option("--nxdomain", dns_args.nxdomain, "answer NXDOMAIN for NAME");
  dns->add_option("--servfail", dns_args.servfail, "answer SERVFAIL for NAME");
  dns->add_option("--drop", dns_args.drop, "never answer queries for NAME");

  CLI11_PARSE(app, argc, argv);

  try {
    if (*pki) return run_pki(pki_args);
    if (*serve) return run_serve(serve_args);
    return run_dns(dns_args);
  } catch (const std::exception& e) {
    std::cerr << "meshprobe-testpeer: " << e.what() << "\n";
    return 1;
  }
}
