// The DER reader with the rules of Go's cryptobyte, and the ASN.1 values
// crypto/x509's parser reads with it: strings (parseASN1String), names
// (parseName) and times (UTCTime, GeneralizedTime).
#include <string>

#include "probes/detail/go_internal.h"

namespace meshprobe::detail::go {

// ---- the DER reader ---------------------------------------------------------

bool Der::read_tlv(std::uint8_t* tag, std::string_view* element, std::string_view* contents) {
  if (s_.size() < 2) return false;
  const auto t = static_cast<std::uint8_t>(s_[0]);
  if ((t & 0x1f) == 0x1f) return false;  // high tag numbers: not read by cryptobyte
  const auto len_byte = static_cast<std::uint8_t>(s_[1]);
  std::size_t header = 2;
  std::size_t length = 0;
  if ((len_byte & 0x80) == 0) {
    length = len_byte;
  } else {
    const std::size_t len_len = len_byte & 0x7f;
    if (len_len == 0 || len_len > 4 || s_.size() < 2 + len_len) return false;
    std::uint32_t len32 = 0;
    for (std::size_t i = 0; i < len_len; ++i) {
      len32 = (len32 << 8) | static_cast<std::uint8_t>(s_[2 + i]);
    }
    if (len32 < 128) return false;                          // short form was due
    if ((len32 >> ((len_len - 1) * 8)) == 0) return false;  // a leading zero byte
    header = 2 + len_len;
    length = len32;
  }
  if (s_.size() - header < length) return false;
  *tag = t;
  if (element != nullptr) *element = s_.substr(0, header + length);
  if (contents != nullptr) *contents = s_.substr(header, length);
  s_.remove_prefix(header + length);
  return true;
}

bool Der::read(std::uint8_t tag, Der* out) {
  Der saved = *this;
  std::uint8_t t = 0;
  std::string_view contents;
  if (!read_tlv(&t, nullptr, &contents) || t != tag) {
    *this = saved;
    return false;
  }
  if (out != nullptr) *out = Der(contents);
  return true;
}

bool Der::read_element(std::uint8_t tag, std::string_view* out) {
  Der saved = *this;
  std::uint8_t t = 0;
  if (!read_tlv(&t, out, nullptr) || t != tag) {
    *this = saved;
    return false;
  }
  return true;
}

bool Der::read_any(std::uint8_t* tag, Der* contents) {
  std::string_view c;
  if (!read_tlv(tag, nullptr, &c)) return false;
  if (contents != nullptr) *contents = Der(c);
  return true;
}

bool Der::read_any_element(std::uint8_t* tag, std::string_view* element) {
  return read_tlv(tag, element, nullptr);
}

bool Der::peek(std::uint8_t tag) const {
  return !s_.empty() && static_cast<std::uint8_t>(s_[0]) == tag;
}

bool Der::skip_optional(std::uint8_t tag) {
  if (!peek(tag)) return true;
  return read(tag, nullptr);
}

bool Der::read_optional(std::uint8_t tag, Der* out, bool* present) {
  *present = peek(tag);
  if (!*present) return true;
  return read(tag, out);
}

namespace {

bool minimal_integer(std::string_view b) {
  if (b.empty()) return false;
  if (b.size() == 1) return true;
  const auto b0 = static_cast<std::uint8_t>(b[0]);
  const auto b1 = static_cast<std::uint8_t>(b[1]);
  return !((b0 == 0 && (b1 & 0x80) == 0) || (b0 == 0xff && (b1 & 0x80) == 0x80));
}

}  // namespace

bool Der::read_big_integer(std::string_view* out) {
  Der saved = *this;
  Der c;
  if (!read(tag::kInteger, &c) || !minimal_integer(c.bytes())) {
    *this = saved;
    return false;
  }
  *out = c.bytes();
  return true;
}

bool Der::read_int64(std::int64_t* out) {
  Der saved = *this;
  std::string_view b;
  if (!read_big_integer(&b) || b.size() > 8) {
    *this = saved;
    return false;
  }
  std::uint64_t v = (static_cast<std::uint8_t>(b[0]) & 0x80) ? ~std::uint64_t{0} : 0;
  for (char c : b) v = (v << 8) | static_cast<std::uint8_t>(c);
  *out = static_cast<std::int64_t>(v);
  return true;
}

bool Der::read_boolean(bool* out) {
  Der saved = *this;
  Der c;
  if (!read(tag::kBoolean, &c) || c.bytes().size() != 1) {
    *this = saved;
    return false;
  }
  const auto v = static_cast<std::uint8_t>(c.bytes()[0]);
  if (v != 0 && v != 0xff) {
    *this = saved;
    return false;
  }
  *out = v == 0xff;
  return true;
}

bool valid_oid(std::string_view bytes) {
  if (bytes.empty()) return false;
  std::size_t i = 0;
  while (i < bytes.size()) {
    std::uint32_t value = 0;
    for (int n = 0;; ++n) {
      if (i == bytes.size() || n == 5) return false;
      if (value >= (1u << (31 - 7))) return false;
      const auto b = static_cast<std::uint8_t>(bytes[i++]);
      if (n == 0 && b == 0x80) return false;
      value = (value << 7) | (b & 0x7f);
      if ((b & 0x80) == 0) break;
    }
  }
  return true;
}

bool Der::read_oid(std::string_view* out) {
  Der saved = *this;
  Der c;
  if (!read(tag::kOid, &c) || !valid_oid(c.bytes())) {
    *this = saved;
    return false;
  }
  *out = c.bytes();
  return true;
}

bool Der::read_bit_string(std::string_view* bytes, std::size_t* bit_length) {
  Der saved = *this;
  Der c;
  if (!read(tag::kBitString, &c) || c.bytes().empty()) {
    *this = saved;
    return false;
  }
  std::string_view b = c.bytes();
  const auto padding = static_cast<std::uint8_t>(b[0]);
  b.remove_prefix(1);
  if (padding > 7 || (b.empty() && padding != 0) ||
      (!b.empty() && (static_cast<std::uint8_t>(b.back()) & ((1u << padding) - 1)) != 0)) {
    *this = saved;
    return false;
  }
  *bytes = b;
  *bit_length = b.size() * 8 - padding;
  return true;
}

bool is_ia5(std::string_view s) {
  for (char c : s) {
    if (static_cast<std::uint8_t>(c) >= 0x80) return false;
  }
  return true;
}

namespace {

constexpr std::string_view kOidCommonName{"\x55\x04\x03", 3};
constexpr std::string_view kOidOrganization{"\x55\x04\x0a", 3};

bool printable_byte(std::uint8_t b) {
  return ('a' <= b && b <= 'z') || ('A' <= b && b <= 'Z') || ('0' <= b && b <= '9') ||
         ('\'' <= b && b <= ')') || ('+' <= b && b <= '/') || b == ' ' || b == ':' || b == '=' ||
         b == '?' || b == '*' || b == '&';
}

bool valid_utf8(std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    const std::size_t n = rune_length(s, i);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

void append_utf8(std::string& out, std::uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xc0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xe0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  } else {
    out += static_cast<char>(0xf0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  }
}

// parseASN1String: the value as Go's string, or Go's error.
bool asn1_string(std::uint8_t t, std::string_view value, std::string* out, std::string* err) {
  switch (t) {
    case tag::kT61String: *out = std::string(value); return true;
    case tag::kPrintableString:
      for (char c : value) {
        if (!printable_byte(static_cast<std::uint8_t>(c))) {
          *err = "invalid PrintableString";
          return false;
        }
      }
      *out = std::string(value);
      return true;
    case tag::kUtf8String:
      if (!valid_utf8(value)) {
        *err = "invalid UTF-8 string";
        return false;
      }
      *out = std::string(value);
      return true;
    case tag::kBmpString: {
      if (value.size() % 2 != 0) {
        *err = "invalid BMPString";
        return false;
      }
      if (value.size() >= 2 && value[value.size() - 1] == 0 && value[value.size() - 2] == 0) {
        value.remove_suffix(2);
      }
      out->clear();
      for (std::size_t i = 0; i + 1 < value.size(); i += 2) {
        std::uint32_t u =
            (static_cast<std::uint8_t>(value[i]) << 8) | static_cast<std::uint8_t>(value[i + 1]);
        if (u >= 0xd800 && u < 0xdc00 && i + 3 < value.size()) {
          const std::uint32_t lo = (static_cast<std::uint8_t>(value[i + 2]) << 8) |
                                   static_cast<std::uint8_t>(value[i + 3]);
          if (lo >= 0xdc00 && lo < 0xe000) {
            u = 0x10000 + ((u - 0xd800) << 10) + (lo - 0xdc00);
            i += 2;
          } else {
            u = 0xfffd;
          }
        } else if (u >= 0xd800 && u < 0xe000) {
          u = 0xfffd;
        }
        append_utf8(*out, u);
      }
      return true;
    }
    case tag::kIa5String:
      if (!go::is_ia5(value)) {
        *err = "invalid IA5String";
        return false;
      }
      *out = std::string(value);
      return true;
    case tag::kNumericString:
      for (char c : value) {
        if (!(('0' <= c && c <= '9') || c == ' ')) {
          *err = "invalid NumericString";
          return false;
        }
      }
      *out = std::string(value);
      return true;
    default: *err = "unsupported string type: " + std::to_string(t); return false;
  }
}

}  // namespace

// parseName over a Name element; keeps the CN and first O when `cert`.
bool parse_name(std::string_view element, GoCert* cert, std::string* err) {
  Der raw(element);
  Der seq;
  if (!raw.read(tag::kSequence, &seq)) {
    *err = "x509: invalid RDNSequence";
    return false;
  }
  bool have_org = false;
  while (!seq.empty()) {
    Der set;
    if (!seq.read(tag::kSet, &set)) {
      *err = "x509: invalid RDNSequence";
      return false;
    }
    while (!set.empty()) {
      Der atav;
      if (!set.read(tag::kSequence, &atav)) {
        *err = "x509: invalid RDNSequence: invalid attribute";
        return false;
      }
      std::string_view type;
      if (!atav.read_oid(&type)) {
        *err = "x509: invalid RDNSequence: invalid attribute type";
        return false;
      }
      std::uint8_t value_tag = 0;
      Der value;
      if (!atav.read_any(&value_tag, &value)) {
        *err = "x509: invalid RDNSequence: invalid attribute value";
        return false;
      }
      std::string text;
      std::string why;
      if (!asn1_string(value_tag, value.bytes(), &text, &why)) {
        *err = "x509: invalid RDNSequence: invalid attribute value: " + why;
        return false;
      }
      if (cert != nullptr) {
        if (type == kOidCommonName) {
          cert->common_name = std::move(text);
        } else if (type == kOidOrganization && !have_org) {
          cert->first_organization = std::move(text);
          have_org = true;
        }
      }
    }
  }
  return true;
}

namespace {

std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

bool leap(std::int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

bool digits(std::string_view s, std::size_t at, std::size_t n, int* out) {
  if (at + n > s.size()) return false;
  int v = 0;
  for (std::size_t i = at; i < at + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + (s[i] - '0');
  }
  *out = v;
  return true;
}

// time.Parse with a layout ending in "Z0700", and the round trip cryptobyte
// requires: "Z", or a non-zero "+hhmm"/"-hhmm" offset.
bool parse_zone(std::string_view s, std::int32_t* offset_minutes) {
  if (s == "Z") {
    *offset_minutes = 0;
    return true;
  }
  if (s.size() != 5 || (s[0] != '+' && s[0] != '-')) return false;
  int hh = 0;
  int mm = 0;
  if (!digits(s, 1, 2, &hh) || !digits(s, 3, 2, &mm) || hh > 24 || mm > 60) return false;
  const int total = hh * 60 + mm;
  if (total == 0) return false;  // written back as "Z"
  *offset_minutes = s[0] == '-' ? -total : total;
  return true;
}

bool civil_time(std::int64_t year, int month, int day, int hour, int minute, int second,
                std::int32_t offset, GoTime* out) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (month < 1 || month > 12 || hour > 23 || minute > 59 || second > 59) return false;
  const int max_day = kDays[month - 1] + (month == 2 && leap(year) ? 1 : 0);
  if (day < 1 || day > max_day) return false;
  out->seconds =
      days_from_civil(year, static_cast<unsigned>(month), static_cast<unsigned>(day)) * 86400 +
      hour * 3600 + minute * 60 + second - std::int64_t{offset} * 60;
  out->nanos = 0;
  out->offset_minutes = offset;
  return true;
}

// cryptobyte's ReadASN1UTCTime: "YYMMDDhhmmss" (or without the seconds),
// then the zone; years 50-99 are 1950-1999.
bool parse_utc_time(std::string_view s, GoTime* out) {
  int yy = 0, mo = 0, dd = 0, hh = 0, mi = 0, ss = 0;
  if (!digits(s, 0, 2, &yy) || !digits(s, 2, 2, &mo) || !digits(s, 4, 2, &dd) ||
      !digits(s, 6, 2, &hh) || !digits(s, 8, 2, &mi)) {
    return false;
  }
  std::size_t zone_at = 10;
  if (digits(s, 10, 2, &ss)) zone_at = 12;
  std::int32_t offset = 0;
  if (!parse_zone(s.substr(zone_at), &offset)) return false;
  std::int64_t year = yy >= 69 ? 1900 + yy : 2000 + yy;
  const bool valid = civil_time(year, mo, dd, hh, mi, ss, offset, out);
  if (!valid) return false;
  if (year >= 2050) {
    year -= 100;
    civil_time(year, mo, dd, hh, mi, ss, offset, out);
  }
  return true;
}

// cryptobyte's ReadASN1GeneralizedTime: "YYYYMMDDhhmmss" and the zone, no
// fraction (it would not survive the round trip).
bool parse_generalized_time(std::string_view s, GoTime* out) {
  int yyyy = 0, mo = 0, dd = 0, hh = 0, mi = 0, ss = 0;
  if (!digits(s, 0, 4, &yyyy) || !digits(s, 4, 2, &mo) || !digits(s, 6, 2, &dd) ||
      !digits(s, 8, 2, &hh) || !digits(s, 10, 2, &mi) || !digits(s, 12, 2, &ss)) {
    return false;
  }
  std::int32_t offset = 0;
  if (!parse_zone(s.substr(14), &offset)) return false;
  return civil_time(yyyy, mo, dd, hh, mi, ss, offset, out);
}

}  // namespace

bool parse_time(Der* der, GoTime* out, std::string* err) {
  Der value;
  if (der->peek(tag::kUtcTime)) {
    if (!der->read(tag::kUtcTime, &value) || !parse_utc_time(value.bytes(), out)) {
      *err = "x509: malformed UTCTime";
      return false;
    }
    return true;
  }
  if (der->peek(tag::kGeneralizedTime)) {
    if (!der->read(tag::kGeneralizedTime, &value) || !parse_generalized_time(value.bytes(), out)) {
      *err = "x509: malformed GeneralizedTime";
      return false;
    }
    return true;
  }
  *err = "x509: unsupported time format";
  return false;
}

}  // namespace meshprobe::detail::go
