package main

import (
	"regexp"
	"strings"
)

// Normalisation used when comparing error texts: Go's text and meshprobe's
// are compared after each of these rewrites, so only the variable parts may
// differ.
//
//   - an RFC 3339 time (2006-01-02T15:04:05Z or with a ±hh:mm offset, Go's
//     time.RFC3339, as in "current time X is after Y") becomes <time>
//   - "serial:N" (Go names a CA without CN or O by its decimal serial)
//     becomes serial:<serial>
//   - a loopback address with a port, 127.0.0.1:N or [::1]:N, becomes
//     127.0.0.1:<port> / [::1]:<port>
//   - "length N bytes" (Go's handshake message size, which varies with the
//     random serials and signatures) becomes length <n> bytes
//   - a backslash-escaped quote \" becomes " (the grpc-go wrapper quotes)
//   - runs of white space become one space; ends are trimmed
//
// The comparison itself (goErrorTail, messageCovers) takes Go's text from the
// first "x509: " or "tls: " onward: what precedes it is the caller's wrapper
// (`Post "URL": `, grpc-go's `connection error: desc = "transport:
// authentication handshake failed: `, `remote error: `).
var (
	reTime   = regexp.MustCompile(`\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})`)
	reSerial = regexp.MustCompile(`serial:-?\d+`)
	rePort4  = regexp.MustCompile(`127\.0\.0\.1:\d+`)
	rePort6  = regexp.MustCompile(`\[::1\]:\d+`)
	reLength = regexp.MustCompile(`length \d+ bytes`)
	reSpace  = regexp.MustCompile(`\s+`)
)

func normalize(s string) string {
	s = reTime.ReplaceAllString(s, "<time>")
	s = reSerial.ReplaceAllString(s, "serial:<serial>")
	s = rePort4.ReplaceAllString(s, "127.0.0.1:<port>")
	s = rePort6.ReplaceAllString(s, "[::1]:<port>")
	s = reLength.ReplaceAllString(s, "length <n> bytes")
	s = strings.ReplaceAll(s, `\"`, `"`)
	s = reSpace.ReplaceAllString(s, " ")
	return strings.TrimSpace(s)
}

// goErrorTail is s from its first "x509: " or "tls: " onward, or "" when it
// has neither (not an x509/TLS failure).
func goErrorTail(s string) string {
	best := -1
	for _, m := range []string{"x509: ", "tls: "} {
		if i := strings.Index(s, m); i >= 0 && (best < 0 || i < best) {
			best = i
		}
	}
	if best < 0 {
		return ""
	}
	return s[best:]
}

// messageCovers reports whether meshprobe's message contains Go's x509/TLS
// error text, both normalised.
func messageCovers(message, goErr string) bool {
	tail := goErrorTail(goErr)
	if tail == "" {
		return true
	}
	return strings.Contains(normalize(message), normalize(tail))
}
