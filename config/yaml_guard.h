// Inputs that yaml-cpp 0.7 (Debian 12) cannot be trusted with. A document
// whose first token is a flow entry (`,`, e.g. a config that starts with a
// stray comma) sends its scanner into a loop that allocates without bound:
// tens of gigabytes in two minutes. Found by fuzzing the config loader.
#pragma once

#include <string_view>

namespace meshprobe {

// The 1-based line of a document that starts with `,`, or 0 when none does.
int line_of_leading_flow_entry(std::string_view yaml_text);

}  // namespace meshprobe
