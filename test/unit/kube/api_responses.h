// The API server's answers as the kube room's judges receive them: a
// metav1.Status body and an HttpResponse that reached the server.
#pragma once

#include <string>
#include <string_view>

#include "kube/client/api_client.h"

namespace meshprobe::test {

inline std::string status_body(long code, std::string_view reason, std::string_view message) {
  std::string escaped;
  for (char c : message) {
    if (c == '"' || c == '\\') escaped += '\\';
    escaped += c;
  }
  return R"({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":")" +
         escaped + R"(","reason":")" + std::string(reason) + R"(","code":)" + std::to_string(code) +
         "}";
}

inline kube::HttpResponse answered(long status, std::string body) {
  kube::HttpResponse response;
  response.status = status;
  response.body = std::move(body);
  response.request_sent = true;
  return response;
}

}  // namespace meshprobe::test
