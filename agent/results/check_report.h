// What `meshprobe check` prints: the JSON object scripts parse (the README's
// "meshprobe check" section) and the table a person reads on a bastion host.
#pragma once

#include <boost/json/fwd.hpp>

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "kube/hygiene_report.h"
#include "probes/result.h"

namespace meshprobe {

// {"results": [...], "summary": {"total": N, "failed": N}} and a newline.
// Durations are in seconds; phases that did not run are left out, as is "tls"
// when the probe learned nothing about TLS; timestamps are RFC 3339 in UTC.
// Each result and finding has "doc", its section of docs/diagnoses.md.
// When the hygiene checks ran: "hygiene": [{"code", "object", "webhook",
// "message", "remedy", "doc"}], plus "hygiene_error" when none could run and
// "hygiene_notes" ([{"check", "message", "rbac": [...]}]) for the checks that
// could not run (or ran on part of what they read) and what went unverified,
// and "verdicts": [{"webhook", "configuration", "diagnosis" ("ok" only when
// the API server's real call confirmed it, "unconfirmed" for an ok inferred
// without one), "confirmed", "hop", "message", "remedy", "platform" (gke,
// eks, aks, unknown: whose remedy), "notes" (the control-plane reads that
// failed, with their RBAC), "doc" (failures)}], one per
// istio webhook (`check` joins them after its round).
std::string render_json(const std::vector<ProbeResult>& results, std::string_view vantage,
                        const HygieneReport* hygiene = nullptr);

// The object render_json prints, for outputs that add to it (--watch's
// NDJSON rounds).
boost::json::object check_json(const std::vector<ProbeResult>& results, std::string_view vantage,
                               const HygieneReport* hygiene = nullptr);

// The "hygiene" array of render_json, for /status too.
boost::json::array hygiene_json(const HygieneReport& hygiene);

// The "verdicts" array of render_json; the agent's /status joins its own.
boost::json::array verdicts_json(const HygieneReport& hygiene);
boost::json::array verdicts_json(std::span<const kube::WebhookVerdict> verdicts);

// The "observed" object of render_json, for /status too: the webhook calls
// the API server made for real that failed (FailedCreate events).
// {"read", "error" (null when the list worked), "totals": [{"webhook",
// "diagnosis", "failures"}], "recent": [{"object", "webhook", "diagnosis",
// "time", "count", "message"}] (newest first)}.
boost::json::object observed_json(const kube::ObservedFailures& observed);

// The "hygiene_notes" array of render_json, for /status too.
boost::json::array hygiene_notes_json(const HygieneReport& hygiene);

// One result as it appears in render_json's "results" array, so that other
// outputs (the agent's /status) describe a result exactly as `check` does.
// A result observed from elsewhere (ProbeResult::vantage, e.g. "apiserver")
// carries that vantage instead of `vantage`; a discovered endpoint's facts
// come as "address_labels".
boost::json::object result_json(const ProbeResult& result, std::string_view vantage);

// One aligned row per result, the message, meaning and remedy under each
// failure, warnings under their row, and a summary line. `color` adds ANSI
// colours (green ok, red failures, yellow warnings); the text reads the same
// without them.
// With hygiene: a HYGIENE section after the results, a finding per row with
// its message and remedy, and the count in the summary line.
std::string render_table(const std::vector<ProbeResult>& results, std::string_view vantage,
                         bool color, const HygieneReport* hygiene = nullptr);

}  // namespace meshprobe
