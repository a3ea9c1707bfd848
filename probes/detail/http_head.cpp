#include "probes/detail/http_head.h"

#include <boost/asio/buffer.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>

namespace meshprobe::detail {

std::size_t response_head_end(std::string_view received) {
  const std::size_t pos = received.find("\r\n\r\n");
  return pos == std::string_view::npos ? 0 : pos + 4;
}

Expected<HttpHead> parse_response_head(std::string_view head) {
  namespace http = boost::beast::http;
  http::response_parser<http::empty_body> parser;
  parser.eager(false);
  parser.header_limit(static_cast<std::uint32_t>(kMaxResponseHead));
  boost::beast::error_code ec;
  parser.put(boost::asio::buffer(head.data(), head.size()), ec);
  if (ec && ec != http::error::need_more) {
    return Error{"malformed HTTP response head: " + ec.message()};
  }
  if (!parser.is_header_done()) return Error{"incomplete HTTP response head"};
  const auto& response = parser.get();
  if (response.version() != 11 && response.version() != 10) {
    return Error{"unsupported HTTP version in the response"};
  }
  // The grammar allows any three digits; a status below 100 is garbage.
  if (response.result_int() < 100) {
    return Error{"invalid HTTP status " + std::to_string(response.result_int())};
  }
  return HttpHead{static_cast<int>(response.result_int()), std::string(response.reason())};
}

std::string make_request(std::string_view path, std::string_view host_header,
                         std::string_view user_agent) {
  std::string request;
  request.reserve(128 + path.size() + host_header.size());
  request.append("GET ").append(path).append(" HTTP/1.1\r\nHost: ");
  request.append(host_header).append("\r\nUser-Agent: ").append(user_agent);
  request.append("\r\nAccept: */*\r\nConnection: close\r\n\r\n");
  return request;
}

}  // namespace meshprobe::detail
