// The HttpServer under test, shared by the plain and the TLS tests: on
// 127.0.0.1 at a port the kernel picks, its io_context run by a thread of
// its own, stopped and joined after each test.
#pragma once

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <gtest/gtest.h>

#include <cstdint>
#include <future>
#include <memory>
#include <thread>
#include <utility>

#include "agent/http/http_server.h"

namespace meshprobe::test {

class HttpServerFixture : public testing::Test {
 protected:
  void start_server(HttpHandler handler, HttpServerOptions options) {
    server_ =
        std::make_unique<HttpServer>(io_, "127.0.0.1", 0, std::move(handler), std::move(options));
    runner_ = std::thread([this] { io_.run(); });
  }

  void TearDown() override {
    if (runner_.joinable()) {
      on_io([this] { server_->stop(); });
      io_.stop();
      runner_.join();
    }
    server_.reset();
  }

  // The server is single-threaded: calls into it run on the io thread.
  template <typename Function>
  void on_io(Function function) {
    std::promise<void> done;
    boost::asio::post(io_, [&] {
      function();
      done.set_value();
    });
    done.get_future().wait();
  }

  std::uint16_t port() const { return server_->port(); }

  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_{
      io_.get_executor()};
  std::unique_ptr<HttpServer> server_;
  std::thread runner_;
};

}  // namespace meshprobe::test
