// The targets `meshprobe check` probes when given none: istiod's webhook
// (directly on 15017 and through the Service port 443) and its xDS port.
#pragma once

#include <string>
#include <vector>

#include "probes/target.h"

namespace meshprobe {

// `revision` empty: the default `istiod` Service; otherwise `istiod-REV`.
std::vector<Target> istiod_targets(const std::string& revision,
                                   const std::string& istio_namespace = "istio-system");

}  // namespace meshprobe
