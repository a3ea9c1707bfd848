// Pieces the Go verifier's files share: a DER reader with the rules of Go's
// golang.org/x/crypto/cryptobyte (which crypto/x509's parser reads with),
// and the name helpers of verify.go. Not for use outside go_*.cpp.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "probes/detail/go_verify.h"

namespace meshprobe::detail::go {

namespace tag {
inline constexpr std::uint8_t kBoolean = 0x01;
inline constexpr std::uint8_t kInteger = 0x02;
inline constexpr std::uint8_t kBitString = 0x03;
inline constexpr std::uint8_t kOctetString = 0x04;
inline constexpr std::uint8_t kNull = 0x05;
inline constexpr std::uint8_t kOid = 0x06;
inline constexpr std::uint8_t kUtf8String = 0x0c;
inline constexpr std::uint8_t kSequence = 0x30;
inline constexpr std::uint8_t kSet = 0x31;
inline constexpr std::uint8_t kNumericString = 0x12;
inline constexpr std::uint8_t kPrintableString = 0x13;
inline constexpr std::uint8_t kT61String = 0x14;
inline constexpr std::uint8_t kIa5String = 0x16;
inline constexpr std::uint8_t kUtcTime = 0x17;
inline constexpr std::uint8_t kGeneralizedTime = 0x18;
inline constexpr std::uint8_t kBmpString = 0x1e;
// [n] context-specific, constructed / primitive.
constexpr std::uint8_t explicit_tag(int n) { return static_cast<std::uint8_t>(0xa0 | n); }
constexpr std::uint8_t implicit_tag(int n) { return static_cast<std::uint8_t>(0x80 | n); }
}  // namespace tag

// cryptobyte.String: a cursor over DER. Every read checks what cryptobyte
// checks (single-byte tags, minimal definite lengths, minimal integers,
// strict booleans, valid OIDs) and consumes nothing on failure.
class Der {
 public:
  Der() = default;
  explicit Der(std::string_view bytes) : s_(bytes) {}

  bool empty() const { return s_.empty(); }
  std::string_view bytes() const { return s_; }

  // ReadASN1: an element of `tag`; `out` gets its contents.
  bool read(std::uint8_t tag, Der* out);
  // ReadASN1Element: the same, `out` gets the whole element.
  bool read_element(std::uint8_t tag, std::string_view* out);
  // ReadAnyASN1 / ReadAnyASN1Element.
  bool read_any(std::uint8_t* tag, Der* contents);
  bool read_any_element(std::uint8_t* tag, std::string_view* element);
  bool peek(std::uint8_t tag) const;
  bool skip_optional(std::uint8_t tag);
  // ReadOptionalASN1: `present` says whether it was there.
  bool read_optional(std::uint8_t tag, Der* out, bool* present);
  // ReadASN1Integer into a big.Int: the content bytes (two's complement).
  bool read_big_integer(std::string_view* out);
  // ReadASN1Integer into an int (64 bits).
  bool read_int64(std::int64_t* out);
  bool read_boolean(bool* out);
  // ReadASN1ObjectIdentifier: the content bytes of a valid OID.
  bool read_oid(std::string_view* out);
  // ReadASN1BitString: the bytes (padding bits zero) and their bit length.
  bool read_bit_string(std::string_view* bytes, std::size_t* bit_length);

 private:
  bool read_tlv(std::uint8_t* tag, std::string_view* element, std::string_view* contents);

  std::string_view s_;
};

// Whether `bytes` is the content of a valid OID as cryptobyte reads one
// (base-128 arcs without leading 0x80, each below 2^31).
bool valid_oid(std::string_view bytes);

// Go's %q: strconv.Quote of a string.
std::string quote(std::string_view s);
// Go's net.IP String() of 4 or 16 raw bytes.
std::string ip_string(std::string_view raw);
// Go's net.ParseIP: the address in 16 bytes, or nullopt.
std::optional<std::string> parse_ip(std::string_view text);
// Go's net.IP Equal (a 4-byte address equals its IPv4-mapped 16-byte form).
bool ip_equal(std::string_view a, std::string_view b);

// verify.go's domainToReverseLabels: nullopt when not a valid domain.
std::optional<std::vector<std::string_view>> domain_to_reverse_labels(std::string_view domain);
bool is_ia5(std::string_view s);
std::string to_lower_ascii(std::string_view s);
// strings.EqualFold for ASCII.
bool equal_fold_ascii(std::string_view a, std::string_view b);

inline constexpr char kHex[] = "0123456789abcdef";
bool match_hostnames(std::string_view pattern, std::string_view host);

// Go's rfc2821Mailbox.
struct Mailbox {
  std::string local, domain;
};
std::optional<Mailbox> parse_rfc2821_mailbox(std::string_view in);

// Go's url.Parse, as far as a URI SAN needs: its host (without port), or
// the error text url.Parse gives (`parse "URI": ...`).
struct UriHost {
  std::string host;
  std::string error;  // "" when it parsed
};
UriHost parse_uri_host(std::string_view uri);

// An error of verification: Go's text, the code meshprobe gives it, the
// certificate it concerns (nullptr when none) and what is wrong with that
// certificate in plain words.
struct Failure {
  Diagnosis diagnosis = Diagnosis::ok;
  std::string text;
  const GoCert* cert = nullptr;
  std::string advice;
  explicit operator bool() const { return diagnosis != Diagnosis::ok; }
};

// VerifyHostname: nullopt when `cert` is valid for `host`, else the
// HostnameError text.
std::optional<std::string> verify_hostname(const GoCert& cert, std::string_view host);

// isValid's name constraint check of `ca` over the SANs of `leaf` and of
// `ca` itself; `count` is isValid's comparison count.
Failure check_name_constraints(const GoCert& ca, const GoCert& leaf, int* count);

inline constexpr int kMaxConstraintComparisons = 250000;
// How many names a message lists before it says how many more there are.
inline constexpr std::size_t kMaxNamesListed = 64;

// ---- the certificate parser's pieces ---------------------------------------
// go_parse.cpp reads a certificate with these; each file holds one part.

// One UTF-8 rune at s[i] as Go's utf8 package accepts it (no overlong
// forms, surrogates or code points past U+10FFFF): its length, 0 when invalid.
std::size_t rune_length(std::string_view s, std::size_t i);

// go_der.cpp: parseName over a Name element (keeping the CN and first O
// when `cert`), and one UTCTime or GeneralizedTime of a Validity.
bool parse_name(std::string_view element, GoCert* cert, std::string* err);
bool parse_time(Der* der, GoTime* out, std::string* err);

// go_algorithms.cpp.
// An AlgorithmIdentifier as parseAI reads it.
struct AlgorithmIdentifier {
  std::string_view oid;
  std::string_view params;  // the whole parameters element, "" when absent
};

bool parse_ai(Der der, AlgorithmIdentifier* ai, std::string* err);
GoSignatureAlgorithm signature_algorithm(const AlgorithmIdentifier& ai);
GoPublicKeyAlgorithm public_key_algorithm(std::string_view oid);
bool parse_public_key(GoCert* cert, const AlgorithmIdentifier& ai, std::string_view key_bits,
                      std::size_t bit_length, std::string* err);

// go_extensions.cpp: processExtensions for one extension.
bool process_extension(GoCert* cert, std::string_view id, bool critical, std::string_view value,
                       std::string* err);

}  // namespace meshprobe::detail::go
