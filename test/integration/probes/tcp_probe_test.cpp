// The connect layer over loopback: what a listener, and the lack of one, look like.

#include <gtest/gtest.h>

#include <sys/socket.h>

#include "probe_harness.h"
#include "test/support/posix_socket.h"

namespace meshprobe::test {
namespace {

class TcpProbe : public ProbeTest {};

// A port that was just free on 127.0.0.1 and now has no listener.
std::uint16_t closed_port() {
  UniqueFd socket = bind_socket("127.0.0.1", 0, SOCK_STREAM);
  return local_port(socket.get());
}

TEST_F(TcpProbe, TcpProbeOfClosedPortIsTcpRefused) {
  ProbeResult result = probe_single(loopback_target("tcp", closed_port()));

  EXPECT_FALSE(result.success);
  EXPECT_EQ(code(result.diagnosis), "tcp_refused") << describe(result);
  EXPECT_EQ(failed_phase(result), "connect");
  EXPECT_EQ(result.address, "127.0.0.1");
}

TEST_F(TcpProbe, HttpsProbeOfClosedPortIsTcpRefused) {
  ProbeResult result = probe_single(loopback_target("https", closed_port(), "/ready"));

  EXPECT_EQ(code(result.diagnosis), "tcp_refused") << describe(result);
  EXPECT_EQ(failed_phase(result), "connect");
  EXPECT_FALSE(result.phases.tls.has_value());
}

TEST_F(TcpProbe, TcpProbeOfListenerSucceeds) {
  TlsTestServer server(ServerOptions{.mode = ServerMode::tcp_silent});

  ProbeResult result = probe_single(loopback_target("tcp", server.port()));

  EXPECT_TRUE(result.success) << describe(result);
  EXPECT_TRUE(result.phases.connect.has_value());
  EXPECT_FALSE(result.phases.tls.has_value());
  EXPECT_FALSE(result.tls.has_value());
}

}  // namespace
}  // namespace meshprobe::test
