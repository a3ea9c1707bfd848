// Client CPU per probe: meshprobe's engine against a raw baseline written
// here (a plain connect loop; a plain OpenSSL handshake loop with the same
// verification: CA loaded once, fresh SSL per handshake, chain and hostname
// checked). The servers run in a forked child so only the client's CPU is
// counted; both sides of each pair run the same number of sequential probes
// against the same server, in the same process. A third TLS loop does the
// same handshake through Asio's ssl::stream and nothing of meshprobe: what
// the engine's TLS costs over it is meshprobe's own.
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "probes/ca_bundle.h"
#include "probes/prober.h"
#include "test/support/test_pki.h"
#include "test/support/tls_test_server.h"

namespace {

using meshprobe::test::ServerMode;
using meshprobe::test::ServerOptions;
using meshprobe::test::TestCa;
using meshprobe::test::TlsTestServer;

constexpr const char* kServerName = "istiod.istio-system.svc";

double seconds(const timeval& tv) {
  return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6;
}

double cpu_seconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

// Microseconds of client CPU per call of `one`, over `n` calls.
double cpu_us_per(int n, const std::function<void()>& one) {
  for (int i = 0; i < n / 10; ++i) one();  // warm-up
  const double start = cpu_seconds();
  for (int i = 0; i < n; ++i) one();
  return (cpu_seconds() - start) * 1e6 / n;
}

int connect_loopback(std::uint16_t port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    throw std::runtime_error("baseline connect failed");
  }
  return fd;
}

void raw_tls_handshake(SSL_CTX* ctx, std::uint16_t port) {
  const int fd = connect_loopback(port);
  SSL* ssl = SSL_new(ctx);
  SSL_set_fd(ssl, fd);
  SSL_set_tlsext_host_name(ssl, kServerName);  // NOLINT: OpenSSL macro
  SSL_set1_host(ssl, kServerName);
  if (SSL_connect(ssl) != 1 || SSL_get_verify_result(ssl) != X509_V_OK) {
    throw std::runtime_error("baseline handshake failed");
  }
  SSL_free(ssl);
  close(fd);
}

// The same handshake through Asio's SSL stream on the event loop (the
// memory-BIO engine every Asio TLS client uses), without meshprobe.
void asio_tls_handshake(boost::asio::io_context& io, boost::asio::ssl::context& ctx,
                        std::uint16_t port) {
  namespace asio = boost::asio;
  asio::ip::tcp::socket socket(io);
  asio::ssl::stream<asio::ip::tcp::socket&> tls(socket, ctx);
  SSL_set_tlsext_host_name(tls.native_handle(), kServerName);  // NOLINT: OpenSSL macro
  SSL_set1_host(tls.native_handle(), kServerName);
  bool ok = false;
  socket.async_connect(
      {asio::ip::address_v4::loopback(), port}, [&](const boost::system::error_code& connected) {
        if (connected) return;
        tls.async_handshake(asio::ssl::stream_base::client,
                            [&](const boost::system::error_code& ec) { ok = !ec; });
      });
  io.restart();
  io.run();
  if (!ok || SSL_get_verify_result(tls.native_handle()) != X509_V_OK) {
    throw std::runtime_error("Asio handshake failed");
  }
}

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

// This machine is noisy: the sides run in alternating rounds and each
// reports its median round, so a burst of load hits them alike.
std::vector<double> alternate(int rounds, const std::vector<std::function<double()>>& sides) {
  std::vector<std::vector<double>> per_side(sides.size());
  for (int r = 0; r < rounds; ++r) {
    for (std::size_t i = 0; i < sides.size(); ++i) per_side[i].push_back(sides[i]());
  }
  std::vector<double> medians;
  for (auto& rounds_of_side : per_side) medians.push_back(median(std::move(rounds_of_side)));
  return medians;
}

// Trusts only `store`, verifies the peer, resumes nothing: the baselines'
// TLS settings, as the prober's.
void trust_only(SSL_CTX* ctx, X509_STORE* store) {
  X509_STORE_up_ref(store);
  SSL_CTX_set_cert_store(ctx, store);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
}

// Runs `n` sequential probes of `target` through the engine.
double meshprobe_cpu_us(int n, std::shared_ptr<const meshprobe::Target> target) {
  static boost::asio::io_context io;
  static meshprobe::Prober prober(io);
  int failures = 0;
  auto probe_once = [&] {
    prober.probe(target, [&](std::vector<meshprobe::ProbeResult> results) {
      if (!results.at(0).success) ++failures;
    });
    io.restart();
    io.run();
  };
  const double us = cpu_us_per(n, probe_once);
  if (failures > 0) throw std::runtime_error(std::to_string(failures) + " meshprobe probes failed");
  return us;
}

struct ServerPorts {
  std::uint16_t tcp;
  std::uint16_t tls;
};

// Forks a child that serves a plain listener and a TLS server until killed.
pid_t start_servers(const TestCa& ca, ServerPorts& ports) {
  int pipefd[2];
  if (pipe(pipefd) != 0) throw std::runtime_error("pipe");
  const pid_t pid = fork();
  if (pid == 0) {
    close(pipefd[0]);
    const auto leaf = ca.issue({.common_name = "", .sans = {kServerName}, .validity = {}});
    TlsTestServer tcp(ServerOptions{.mode = ServerMode::tcp_close});
    TlsTestServer tls(ServerOptions{
        .mode = ServerMode::tls_http, .cert_chain_pem = leaf.cert_pem, .key_pem = leaf.key_pem});
    ServerPorts p{tcp.port(), tls.port()};
    if (write(pipefd[1], &p, sizeof p) != sizeof p) _exit(1);
    pause();
    _exit(0);
  }
  close(pipefd[1]);
  if (read(pipefd[0], &ports, sizeof ports) != sizeof ports) throw std::runtime_error("servers");
  close(pipefd[0]);
  return pid;
}

void report(const char* name, double meshprobe_us, double baseline_us) {
  std::printf("%-28s meshprobe %8.1f us   baseline %8.1f us   ratio %.2f\n", name, meshprobe_us,
              baseline_us, meshprobe_us / baseline_us);
  std::printf(
      "BENCH %s_meshprobe_cpu_us=%.1f\nBENCH %s_baseline_cpu_us=%.1f\nBENCH %s_ratio=%.3f\n", name,
      meshprobe_us, name, baseline_us, name, meshprobe_us / baseline_us);
}

}  // namespace

int main(int argc, char** argv) {
  const int tcp_n = argc > 1 ? std::atoi(argv[1]) : 5000;
  const int tls_n = argc > 2 ? std::atoi(argv[2]) : 1000;

  const TestCa ca = TestCa::create("bench mesh CA");
  ServerPorts ports{};
  const pid_t servers = start_servers(ca, ports);

  auto bundle = meshprobe::CaBundle::from_pem(ca.cert_pem, "bench");
  auto target = [&](const std::string& url) {
    auto t = meshprobe::parse_target_url(url);
    t->server_name = kServerName;
    t->ca = *bundle;
    return std::make_shared<const meshprobe::Target>(std::move(*t));
  };

  const int rounds = 5;
  const auto tcp_target = target("tcp://127.0.0.1:" + std::to_string(ports.tcp));
  const auto tcp = alternate(
      rounds,
      {[&] { return cpu_us_per(tcp_n / rounds, [&] { close(connect_loopback(ports.tcp)); }); },
       [&] { return meshprobe_cpu_us(tcp_n / rounds, tcp_target); }});
  report("tcp_probe", tcp[1], tcp[0]);

  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  trust_only(ctx, (*bundle)->store());
  boost::asio::io_context asio_io;
  boost::asio::ssl::context asio_ctx(boost::asio::ssl::context::tls_client);
  trust_only(asio_ctx.native_handle(), (*bundle)->store());
  const auto tls_target = target("tls://127.0.0.1:" + std::to_string(ports.tls));
  const auto tls = alternate(
      rounds,
      {[&] { return cpu_us_per(tls_n / rounds, [&] { raw_tls_handshake(ctx, ports.tls); }); },
       [&] {
         return cpu_us_per(tls_n / rounds,
                           [&] { asio_tls_handshake(asio_io, asio_ctx, ports.tls); });
       },
       [&] { return meshprobe_cpu_us(tls_n / rounds, tls_target); }});
  const double tls_raw = tls[0], tls_asio = tls[1], tls_mesh = tls[2];
  report("tls_probe", tls_mesh, tls_raw);
  std::printf("%-28s meshprobe %8.1f us   Asio ssl::stream alone %8.1f us   ratio %.2f\n",
              "tls_probe_over_asio", tls_mesh, tls_asio, tls_mesh / tls_asio);
  std::printf("BENCH tls_asio_stream_cpu_us=%.1f\nBENCH tls_probe_over_asio_ratio=%.3f\n", tls_asio,
              tls_mesh / tls_asio);
  SSL_CTX_free(ctx);

  kill(servers, SIGTERM);
  waitpid(servers, nullptr, 0);
  return 0;
}
