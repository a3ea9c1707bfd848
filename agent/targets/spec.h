// One target as the scheduler runs it and the results store keeps it: the
// probe-ready Target and how often it runs.
#pragma once

#include <chrono>
#include <memory>

#include "probes/target.h"

namespace meshprobe {

struct TargetSpec {
  std::shared_ptr<const Target> target;
  std::chrono::milliseconds interval{};
};

}  // namespace meshprobe
