#include "config/duration.h"

#include <cstddef>
#include <cstdint>
#include <optional>

#include "common/text.h"
#include "config/invalid_value.h"

namespace meshprobe {
namespace {

using Millis = std::chrono::milliseconds::rep;

struct Unit {
  std::string_view suffix;
  Millis millis;
};

// Largest first: the order the parts of a duration must come in.
constexpr Unit kUnits[] = {
    {"h", 3'600'000},
    {"m", 60'000},
    {"s", 1'000},
    {"ms", 1},
};

// 10^9 times an hour's milliseconds still fits in Millis; a fraction with more
// significant digits could not be a whole number of milliseconds anyway.
constexpr std::size_t kMaxFractionDigits = 9;

constexpr std::string_view kWhat = "duration";  // for invalid_value

std::string with_unit_hint(std::string reason) { return reason + " (use ms, s, m, h)"; }

bool is_digit(char c) { return c >= '0' && c <= '9'; }

std::string_view take_digits(std::string_view text, std::size_t& pos) {
  const std::size_t start = pos;
  while (pos < text.size() && is_digit(text[pos])) ++pos;
  return text.substr(start, pos - start);
}

// Everything up to the next number is the unit, so that "3 s" or "3sec"
// are reported as the unit the user wrote.
std::string_view take_unit(std::string_view text, std::size_t& pos) {
  const std::size_t start = pos;
  while (pos < text.size() && !is_digit(text[pos]) && text[pos] != '.') ++pos;
  return text.substr(start, pos - start);
}

std::optional<Millis> checked_add(Millis a, Millis b) {
  Millis sum = 0;
  if (__builtin_add_overflow(a, b, &sum)) return std::nullopt;
  return sum;
}

std::optional<Millis> checked_mul(Millis a, Millis b) {
  Millis product = 0;
  if (__builtin_mul_overflow(a, b, &product)) return std::nullopt;
  return product;
}

std::optional<Millis> to_integer(std::string_view digits) {
  Millis value = 0;
  for (char digit : digits) {
    auto shifted = checked_mul(value, 10);
    if (!shifted) return std::nullopt;
    auto next = checked_add(*shifted, digit - '0');
    if (!next) return std::nullopt;
    value = *next;
  }
  return value;
}

const Unit* find_unit(std::string_view suffix) {
  for (const Unit& unit : kUnits) {
    if (unit.suffix == suffix) return &unit;
  }
  return nullptr;
}

std::size_t rank(const Unit& unit) { return static_cast<std::size_t>(&unit - kUnits); }

// The whole milliseconds `fraction_digits` (the digits after the point) of
// `unit` amount to; nullopt when they leave a sub-millisecond remainder.
std::optional<Millis> fraction_millis(std::string_view fraction_digits, const Unit& unit) {
  while (!fraction_digits.empty() && fraction_digits.back() == '0') {
    fraction_digits.remove_suffix(1);
  }
  if (fraction_digits.size() > kMaxFractionDigits) return std::nullopt;
  Millis denominator = 1;
  for (std::size_t i = 0; i < fraction_digits.size(); ++i) denominator *= 10;
  const Millis numerator = *to_integer(fraction_digits) * unit.millis;
  if (numerator % denominator != 0) return std::nullopt;
  return numerator / denominator;
}

struct Part {
  const Unit* unit;
  Millis millis;
};

// Reads the `<number><unit>` that starts at `pos` and moves `pos` past it.
Expected<Part> take_part(std::string_view text, std::size_t& pos) {
  const std::string_view whole = take_digits(text, pos);
  std::string_view fraction;
  const bool has_point = pos < text.size() && text[pos] == '.';
  if (has_point) {
    ++pos;
    fraction = take_digits(text, pos);
  }
  if (whole.empty() || (has_point && fraction.empty())) {
    return invalid_value(kWhat, text,
                         "expected a number like 3 or 1.5 at " + in_quotes(text.substr(pos)));
  }

  const std::string_view suffix = take_unit(text, pos);
  if (suffix.empty()) {
    return invalid_value(kWhat, text,
                         with_unit_hint("missing unit after " + in_quotes(text.substr(0, pos))));
  }
  const Unit* unit = find_unit(suffix);
  if (unit == nullptr) {
    return invalid_value(kWhat, text, with_unit_hint("unknown unit " + in_quotes(suffix)));
  }

  const auto fraction_part = fraction_millis(fraction, *unit);
  if (!fraction_part) return invalid_value(kWhat, text, "finer than a millisecond");
  const auto whole_number = to_integer(whole);
  const auto whole_part = whole_number ? checked_mul(*whole_number, unit->millis) : std::nullopt;
  const auto millis = whole_part ? checked_add(*whole_part, *fraction_part) : std::nullopt;
  if (!millis) return invalid_value(kWhat, text, "too large");
  return Part{unit, *millis};
}

}  // namespace

Expected<std::chrono::milliseconds> parse_duration(std::string_view text) {
  if (text.empty()) return invalid_value(kWhat, text, with_unit_hint("empty"));
  if (text == "0") return std::chrono::milliseconds{0};
  if (text.front() == '-') return invalid_value(kWhat, text, "must not be negative");

  Millis total = 0;
  std::optional<std::size_t> previous_rank;
  std::size_t pos = 0;
  while (pos < text.size()) {
    const auto part = take_part(text, pos);
    if (!part) return part.error();
    if (previous_rank && rank(*part->unit) <= *previous_rank) {
      return invalid_value(kWhat, text,
                           "units must go from largest to smallest, each at most "
                           "once (h, m, s, ms)");
    }
    previous_rank = rank(*part->unit);
    const auto sum = checked_add(total, part->millis);
    if (!sum) return invalid_value(kWhat, text, "too large");
    total = *sum;
  }
  return std::chrono::milliseconds{total};
}

std::string format_duration(std::chrono::milliseconds duration) {
  if (duration.count() < 0) return "-" + format_duration(-duration);
  if (duration.count() == 0) return "0s";
  std::string text;
  Millis rest = duration.count();
  for (const Unit& unit : kUnits) {
    if (const Millis count = rest / unit.millis; count > 0) {
      text += std::to_string(count);
      text += unit.suffix;
      rest %= unit.millis;
    }
  }
  return text;
}

}  // namespace meshprobe
