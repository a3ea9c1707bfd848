// The message of a value that does not parse, shared by the parsers of
// durations (duration.cpp) and listen addresses (listen_address.cpp); private
// to the config room.
#pragma once

#include <string>
#include <string_view>

#include "common/expected.h"
#include "common/text.h"

namespace meshprobe {

// `invalid WHAT "TEXT": REASON`, e.g. invalid duration "3x": unknown unit "x".
inline Error invalid_value(std::string_view what, std::string_view text, std::string_view reason) {
  std::string message = "invalid ";
  message += what;
  message += ' ';
  message += in_quotes(text);
  message += ": ";
  message += reason;
  return Error{std::move(message)};
}

}  // namespace meshprobe
