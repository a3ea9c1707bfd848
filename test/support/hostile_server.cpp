#include "test/support/hostile_server.h"

#include <openssl/err.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <list>
#include <mutex>
#include <thread>
#include <vector>

#include "test/support/posix_socket.h"

namespace meshprobe::test {
namespace {

constexpr std::size_t kTlsRecordHeader = 5;
constexpr std::size_t kMaxTlsRecord = 16 * 1024 + 2048;
constexpr std::size_t kMaxRequestHead = 64 * 1024;
constexpr std::string_view kEndOfHead = "\r\n\r\n";

}  // namespace

HostileConnection::HostileConnection(int fd, const StopSignal& stop,
                                     std::atomic<std::uint64_t>& bytes_sent)
    : fd_(fd), stop_(stop), bytes_sent_(bytes_sent) {}

HostileConnection::~HostileConnection() {
  if (fd_ >= 0) ::close(fd_);
}

bool HostileConnection::send(std::string_view data) {
  while (!data.empty() && fd_ >= 0) {
    // MSG_NOSIGNAL: a client that went away makes this fail with EPIPE
    // instead of killing the test process with SIGPIPE.
    ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
    if (n > 0) {
      bytes_sent_ += static_cast<std::uint64_t>(n);
      data.remove_prefix(static_cast<std::size_t>(n));
    } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
      if (wait_for(fd_, POLLOUT, stop_) != WaitResult::ready) return false;
    } else {
      return false;
    }
  }
  return data.empty();
}

bool HostileConnection::trickle(std::string_view data, std::chrono::milliseconds interval) {
  for (char byte : data) {
    if (!send(std::string_view(&byte, 1)) || !pause(interval)) return false;
  }
  return true;
}

bool HostileConnection::pause(std::chrono::milliseconds duration) {
  return sleep_unless_stopped(duration, stop_);
}

std::string HostileConnection::read_some(std::size_t max) {
  std::string out(max, '\0');
  while (fd_ >= 0 && wait_for(fd_, POLLIN, stop_, kReadTimeout) == WaitResult::ready) {
    ssize_t n = ::recv(fd_, out.data(), out.size(), 0);
    if (n > 0) {
      out.resize(static_cast<std::size_t>(n));
      return out;
    }
    if (n == 0 || (errno != EAGAIN && errno != EINTR)) break;
  }
  return {};
}

std::optional<std::string> HostileConnection::read_tls_record() {
  std::string record;
  std::size_t wanted = kTlsRecordHeader;
  while (record.size() < wanted) {
    std::string more = read_some(wanted - record.size());
    if (more.empty()) return std::nullopt;
    record += more;
    if (record.size() == kTlsRecordHeader && wanted == kTlsRecordHeader) {
      const auto byte = [&record](std::size_t i) { return static_cast<unsigned char>(record[i]); };
      const std::size_t length = (std::size_t{byte(3)} << 8) | byte(4);
      // A handshake record of TLS 1.x, and no longer than a record may be.
      if (byte(0) != 0x16 || byte(1) != 0x03 || length > kMaxTlsRecord) return std::nullopt;
      wanted += length;
    }
  }
  return record;
}

void HostileConnection::hold() {
  char buffer[4096];
  while (fd_ >= 0 && wait_for(fd_, POLLIN, stop_) == WaitResult::ready) {
    ssize_t n = ::recv(fd_, buffer, sizeof buffer, 0);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) return;
  }
}

void HostileConnection::reset() {
  if (fd_ < 0) return;
  linger abortive{.l_onoff = 1, .l_linger = 0};
  ::setsockopt(fd_, SOL_SOCKET, SO_LINGER, &abortive, sizeof abortive);
  ::close(fd_);
  fd_ = -1;
}

void HostileConnection::limit_send_buffer(int bytes) {
  if (fd_ >= 0) ::setsockopt(fd_, SOL_SOCKET, SO_SNDBUF, &bytes, sizeof bytes);
}

struct HostileServer::Impl {
  Impl(HostileScript server_script, const std::string& listen_ip)
      : script(std::move(server_script)),
        listener(bind_socket(listen_ip, 0, SOCK_STREAM)),
        port(local_port(listener.get())) {
    acceptor = std::thread([this] { accept_loop(); });
  }

  ~Impl() {
    stop.request();
    acceptor.join();
    for (std::thread& worker : workers) worker.join();
  }

  void accept_loop() {
    while (wait_for(listener.get(), POLLIN, stop) == WaitResult::ready) {
      int fd = ::accept4(listener.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) continue;
      {
        std::lock_guard lock(mutex);
        ++accepted;
        ++running;
      }
      workers.emplace_back([this, fd] {
        {
          HostileConnection connection(fd, stop, sent);
          try {
            script(connection);
          } catch (...) {
            // A script that throws just ends its connection: the test sees
            // the close and the diagnosis it causes.
          }
        }
        std::lock_guard lock(mutex);
        --running;
        idle.notify_all();
      });
    }
  }

  HostileScript script;
  UniqueFd listener;
  std::uint16_t port;
  StopSignal stop;
  std::atomic<std::uint64_t> sent{0};
  mutable std::mutex mutex;
  mutable std::condition_variable idle;
  int accepted = 0;
  int running = 0;
  std::list<std::thread> workers;  // touched by the acceptor only, until it is joined
  std::thread acceptor;
};

HostileServer::HostileServer(HostileScript script, std::string listen_ip)
    : impl_(std::make_unique<Impl>(std::move(script), listen_ip)) {}

HostileServer::~HostileServer() = default;

std::uint16_t HostileServer::port() const { return impl_->port; }

int HostileServer::connections() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->accepted;
}

std::uint64_t HostileServer::bytes_sent() const { return impl_->sent; }

bool HostileServer::wait_until_idle(std::chrono::milliseconds timeout) const {
  std::unique_lock lock(impl_->mutex);
  return impl_->idle.wait_for(lock, timeout, [this] { return impl_->running == 0; });
}

SslCtxPtr make_hostile_tls_context(const std::string& chain_pem, const std::string& key_pem) {
  SslCtxPtr ctx(SSL_CTX_new(TLS_server_method()));
  if (!ctx) throw_openssl_error("SSL_CTX_new");
  std::vector<X509Ptr> chain = read_certificates(chain_pem);
  EvpPkeyPtr key = read_private_key(key_pem);
  if (SSL_CTX_use_certificate(ctx.get(), chain.front().get()) != 1) {
    throw_openssl_error("SSL_CTX_use_certificate");
  }
  for (std::size_t i = 1; i < chain.size(); ++i) {
    if (SSL_CTX_add1_chain_cert(ctx.get(), chain[i].get()) != 1) {
      throw_openssl_error("SSL_CTX_add1_chain_cert");
    }
  }
  if (SSL_CTX_use_PrivateKey(ctx.get(), key.get()) != 1 ||
      SSL_CTX_check_private_key(ctx.get()) != 1) {
    throw_openssl_error("the key does not match the certificate");
  }
  return ctx;
}

ServerTls::ServerTls(HostileConnection& connection, SSL_CTX* ctx)
    : connection_(connection), ssl_(SSL_new(ctx)) {
  if (!ssl_) throw_openssl_error("SSL_new");
  in_ = BIO_new(BIO_s_mem());
  out_ = BIO_new(BIO_s_mem());
  if (in_ == nullptr || out_ == nullptr) {
    BIO_free(in_);
    BIO_free(out_);
    throw_openssl_error("BIO_new");
  }
  SSL_set_bio(ssl_.get(), in_, out_);
  SSL_set_accept_state(ssl_.get());
}

namespace {

std::string take_output(BIO* out) {
  std::string bytes(BIO_ctrl_pending(out), '\0');
  if (!bytes.empty()) {
    const int n = BIO_read(out, bytes.data(), static_cast<int>(bytes.size()));
    bytes.resize(n > 0 ? static_cast<std::size_t>(n) : 0);
  }
  return bytes;
}

}  // namespace

bool ServerTls::flush() {
  const std::string bytes = take_output(out_);
  return bytes.empty() || connection_.send(bytes);
}

bool ServerTls::fill() {
  const std::string bytes = connection_.read_some();
  if (bytes.empty()) return false;
  return BIO_write(in_, bytes.data(), static_cast<int>(bytes.size())) ==
         static_cast<int>(bytes.size());
}

std::optional<std::string> ServerTls::first_flight() {
  for (;;) {
    ERR_clear_error();
    const int result = SSL_do_handshake(ssl_.get());
    std::string flight = take_output(out_);
    if (!flight.empty()) return flight;
    if (result == 1 || SSL_get_error(ssl_.get(), result) != SSL_ERROR_WANT_READ) {
      return std::nullopt;
    }
    if (!fill()) return std::nullopt;
  }
}

bool ServerTls::handshake() {
  for (;;) {
    ERR_clear_error();
    const int result = SSL_do_handshake(ssl_.get());
    // Sent before judging the result: a failed handshake's alert too.
    if (!flush()) return false;
    if (result == 1) return true;
    if (SSL_get_error(ssl_.get(), result) != SSL_ERROR_WANT_READ) return false;
    if (!fill()) return false;
  }
}

std::optional<std::string> ServerTls::read_request_head() {
  std::string head;
  char buffer[4096];
  while (head.find(kEndOfHead) == std::string::npos) {
    if (head.size() > kMaxRequestHead) return std::nullopt;
    ERR_clear_error();
    const int n = SSL_read(ssl_.get(), buffer, sizeof buffer);
    if (n > 0) {
      head.append(buffer, static_cast<std::size_t>(n));
      continue;
    }
    if (SSL_get_error(ssl_.get(), n) != SSL_ERROR_WANT_READ) return std::nullopt;
    if (!flush() || !fill()) return std::nullopt;
  }
  return head;
}

bool ServerTls::write(std::string_view plaintext) {
  ERR_clear_error();
  // A memory BIO never pushes back: one call encrypts all of it.
  if (SSL_write(ssl_.get(), plaintext.data(), static_cast<int>(plaintext.size())) !=
      static_cast<int>(plaintext.size())) {
    return false;
  }
  return flush();
}

bool ServerTls::write_trickled(std::string_view plaintext, std::chrono::milliseconds interval) {
  for (std::size_t i = 0; i < plaintext.size(); ++i) {
    if (!write(plaintext.substr(i, 1)) || !connection_.pause(interval)) return false;
  }
  return true;
}

std::string negotiated_version(std::uint16_t port, SSL_CTX* ctx) {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) return "";
  timeval patience{.tv_sec = 5, .tv_usec = 0};
  ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &patience, sizeof patience);
  ::setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &patience, sizeof patience);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    return "";
  }
  // Memory BIOs here too, so no write of OpenSSL's can raise SIGPIPE in the
  // test's own thread.
  SslPtr ssl(SSL_new(ctx));
  BIO* in = BIO_new(BIO_s_mem());
  BIO* out = BIO_new(BIO_s_mem());
  if (!ssl || in == nullptr || out == nullptr) {
    BIO_free(in);
    BIO_free(out);
    return "";
  }
  SSL_set_bio(ssl.get(), in, out);
  SSL_set_connect_state(ssl.get());
  for (;;) {
    ERR_clear_error();
    const int result = SSL_do_handshake(ssl.get());
    const std::string bytes = take_output(out);
    if (!bytes.empty() && ::send(fd.get(), bytes.data(), bytes.size(), MSG_NOSIGNAL) !=
                              static_cast<ssize_t>(bytes.size())) {
      return "";
    }
    if (result == 1) return SSL_get_version(ssl.get());
    if (SSL_get_error(ssl.get(), result) != SSL_ERROR_WANT_READ) {
      ERR_clear_error();
      return "";
    }
    char buffer[16 * 1024];
    const ssize_t n = ::recv(fd.get(), buffer, sizeof buffer, 0);
    if (n <= 0 || BIO_write(in, buffer, static_cast<int>(n)) != n) return "";
  }
}

std::string padded_certificate_pem(std::size_t padding_bytes) {
  EvpPkeyPtr key(EVP_EC_gen("P-256"));
  X509Ptr certificate(X509_new());
  if (!key || !certificate) throw_openssl_error("a filler certificate");
  X509_set_version(certificate.get(), X509_VERSION_3);
  static std::atomic<long> serial{1};
  ASN1_INTEGER_set(X509_get_serialNumber(certificate.get()), serial++);
  X509_gmtime_adj(X509_getm_notBefore(certificate.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(certificate.get()), 30L * 24 * 3600);
  X509_NAME* subject = X509_get_subject_name(certificate.get());
  X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("meshprobe filler"), -1, -1, 0);
  X509_set_issuer_name(certificate.get(), subject);
  X509_set_pubkey(certificate.get(), key.get());

  // 1.3.6.1.4.1.32473 is the enterprise number reserved for documentation
  // (RFC 5612): no verifier knows the extension, and it is not critical.
  using ObjectPtr = std::unique_ptr<ASN1_OBJECT, OpenSslDeleter<ASN1_OBJECT_free>>;
  using OctetsPtr = std::unique_ptr<ASN1_OCTET_STRING, OpenSslDeleter<ASN1_OCTET_STRING_free>>;
  ObjectPtr oid(OBJ_txt2obj("1.3.6.1.4.1.32473.1", 1));
  OctetsPtr value(ASN1_OCTET_STRING_new());
  const std::string padding(padding_bytes, 'p');
  if (!oid || !value ||
      ASN1_OCTET_STRING_set(value.get(), reinterpret_cast<const unsigned char*>(padding.data()),
                            static_cast<int>(padding.size())) != 1) {
    throw_openssl_error("the filler extension");
  }
  X509ExtensionPtr extension(X509_EXTENSION_create_by_OBJ(nullptr, oid.get(), 0, value.get()));
  if (!extension || X509_add_ext(certificate.get(), extension.get(), -1) != 1 ||
      X509_sign(certificate.get(), key.get(), EVP_sha256()) <= 0) {
    throw_openssl_error("signing a filler certificate");
  }
  return to_pem(certificate.get());
}

}  // namespace meshprobe::test
