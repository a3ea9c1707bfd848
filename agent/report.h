// What `meshprobe check` prints: the JSON object scripts parse (SPEC section 9)
// and the table a person reads on a bastion host.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "probes/result.h"

namespace meshprobe {

// {"results": [...], "summary": {"total": N, "failed": N}} and a newline.
// Durations are in seconds; phases that did not run are left out, as is "tls"
// when the probe learned nothing about TLS; timestamps are RFC 3339 in UTC.
std::string render_json(const std::vector<ProbeResult>& results,
                        std::string_view vantage);

// One aligned row per result, the message, meaning and remedy under each
// failure, warnings under their row, and a summary line. `color` adds ANSI
// colours (green ok, red failures, yellow warnings); the text reads the same
// without them.
std::string render_table(const std::vector<ProbeResult>& results,
                         std::string_view vantage, bool color);

}  // namespace meshprobe
