// Durations as people write them in the config file and on the command line.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "common/expected.h"

namespace meshprobe {

// Parses Prometheus-style durations: one or more `<number><unit>` parts with
// units h, m, s, ms, largest first and each at most once ("1h", "1m30s",
// "500ms"). A number may carry a fraction ("1.5s") as long as the total is a
// whole number of milliseconds: probe timing has no use for finer values, and
// silently rounding "0.0001s" to 0 would turn a typo into "no timeout".
// "0" is the one value that needs no unit. Refuses empty text, signs,
// whitespace, unknown units and values beyond the range of milliseconds.
Expected<std::chrono::milliseconds> parse_duration(std::string_view text);

// The canonical text of a duration, which parse_duration reads back:
// "1h", "1m30s", "1s500ms", "0s".
std::string format_duration(std::chrono::milliseconds duration);

}  // namespace meshprobe
