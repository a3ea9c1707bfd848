// Base64 as the Kubernetes API and kubeconfig files use it (RFC 4648, with
// padding): caBundle fields and *-data keys carry PEM this way.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace meshprobe::kube {

// Decodes standard base64; whitespace (line breaks in a kubeconfig) is
// skipped. nullopt when the text is not base64.
std::optional<std::string> base64_decode(std::string_view text);

}  // namespace meshprobe::kube
