#include "config/service_host.h"

namespace meshprobe {

std::optional<ServiceName> parse_service_host(std::string_view host) {
  // NAME . NAMESPACE . svc [. cluster-domain]
  const std::size_t first = host.find('.');
  if (first == std::string_view::npos || first == 0) return std::nullopt;
  const std::size_t second = host.find('.', first + 1);
  if (second == std::string_view::npos || second == first + 1) return std::nullopt;
  const std::string_view rest = host.substr(second + 1);
  if (rest != "svc" && !(rest.starts_with("svc.") && rest.size() > 4)) return std::nullopt;
  return ServiceName{std::string(host.substr(0, first)),
                     std::string(host.substr(first + 1, second - first - 1))};
}

}  // namespace meshprobe
