// Kubernetes Service host names as users write them in target URLs. The
// config recognises them (for `discover` and `via`) without ever contacting
// a cluster; Kubernetes mode resolves them.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace meshprobe {

struct ServiceName {
  std::string name;
  std::string ns;
  // NAME.NAMESPACE.svc: the name the API server calls webhooks by, and the
  // one istiod's certificate carries.
  std::string host() const { return name + "." + ns + ".svc"; }
  bool operator==(const ServiceName&) const = default;
};

// NAME.NAMESPACE.svc or NAME.NAMESPACE.svc.CLUSTER-DOMAIN; nullopt otherwise.
std::optional<ServiceName> parse_service_host(std::string_view host);

}  // namespace meshprobe
