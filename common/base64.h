// Base64 (RFC 4648: the standard alphabet, with padding), as the Kubernetes
// API and kubeconfig files carry PEM (caBundle fields, *-data keys) and as
// HTTP basic auth carries credentials (RFC 7617).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace meshprobe {

// What whitespace (' ', '\t', '\r', '\n') in the text means.
enum class Base64Spaces {
  skip,    // nothing: a kubeconfig may break its base64 into lines
  refuse,  // the text is not base64: an Authorization header's token
};

// Decodes standard base64: a multiple of four symbols, with at most two '='
// and only at the end; "" decodes to "". nullopt when the text is not base64.
// The result is allocated once, at its full size, so a caller that wipes it
// (a password) leaves no earlier copy behind.
std::optional<std::string> base64_decode(std::string_view text,
                                         Base64Spaces spaces = Base64Spaces::skip);

// Encodes standard base64 with padding (what a Kubernetes []byte field holds).
std::string base64_encode(std::string_view bytes);

namespace kube {
using meshprobe::base64_decode;  // the name the Kubernetes client calls it by
}  // namespace kube

}  // namespace meshprobe
