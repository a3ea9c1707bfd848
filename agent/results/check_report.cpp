#include "agent/results/check_report.h"

#include <boost/json.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <optional>

#include "agent/results/format.h"

namespace meshprobe {
namespace {

namespace json = boost::json;

std::size_t failed_count(const std::vector<ProbeResult>& results) {
  return static_cast<std::size_t>(std::count_if(
      results.begin(), results.end(), [](const ProbeResult& result) { return !result.success; }));
}

// ---- JSON -----------------------------------------------------------------

json::value string_or_null(std::string_view text) {
  if (text.empty()) return nullptr;
  return json::string(text);
}

json::object phases_json(const PhaseDurations& phases) {
  json::object out;
  const auto add = [&out](Phase phase, const std::optional<Duration>& took) {
    if (took) out[phase_name(phase)] = in_seconds(*took);
  };
  add(Phase::resolve, phases.resolve);
  add(Phase::connect, phases.connect);
  add(Phase::tls, phases.tls);
  add(Phase::app, phases.app);
  return out;
}

json::array strings_json(const std::vector<std::string>& strings) {
  json::array out;
  for (const std::string& text : strings) out.emplace_back(text);
  return out;
}

json::object certificate_json(const CertSummary& cert) {
  json::object out;
  out["subject"] = cert.subject;
  out["issuer"] = cert.issuer;
  out["serial"] = cert.serial;
  out["sha256"] = cert.sha256;
  out["not_before"] = rfc3339(cert.not_before);
  out["not_after"] = rfc3339(cert.not_after);
  out["sans"] = strings_json(cert.sans);
  return out;
}

json::object tls_json(const TlsInfo& tls) {
  json::array chain;
  for (const CertSummary& cert : tls.chain) {
    chain.emplace_back(certificate_json(cert));
  }
  json::object out;
  out["version"] = tls.version;
  out["cipher"] = tls.cipher;
  out["alpn"] = tls.alpn;
  out["verified"] = tls.verified;
  out["handshake"] = handshake_name(tls.handshake);
  out["verified_age_seconds"] = in_seconds(tls.verified_age);
  out["chain"] = std::move(chain);
  return out;
}

json::object grpc_json(const GrpcInfo& grpc) {
  const auto text_or_null = [](const std::string& text) {
    return text.empty() ? json::value(nullptr) : json::value(text);
  };
  json::object out;
  out["method"] = grpc.method;
  out["http_status"] = grpc.http_status != 0 ? json::value(grpc.http_status) : json::value(nullptr);
  out["content_type"] = text_or_null(grpc.content_type);
  out["status"] = grpc.status ? json::value(*grpc.status) : json::value(nullptr);
  const std::string_view name = grpc.status ? grpc_status_name(*grpc.status) : "";
  out["status_name"] = name.empty() ? json::value(nullptr) : json::value(name);
  out["message"] = grpc.message;
  out["serving_status"] = text_or_null(grpc.serving_status);
  return out;
}

json::array warnings_json(const std::vector<Warning>& warnings) {
  json::array out;
  for (const Warning& warning : warnings) {
    out.emplace_back(json::object{{"code", warning.code}, {"message", warning.message}});
  }
  return out;
}

// ---- table ----------------------------------------------------------------

constexpr std::string_view kBold = "\x1b[1m";
constexpr std::string_view kRed = "\x1b[31m";
constexpr std::string_view kGreen = "\x1b[32m";
constexpr std::string_view kYellow = "\x1b[33m";
constexpr std::string_view kReset = "\x1b[0m";

// Notes wrap here so that a failure's explanation stays readable in a
// terminal without reflowing.
constexpr std::size_t kWrapColumn = 100;
constexpr std::string_view kNoteIndent = "    ";
constexpr std::size_t kNoteLabelWidth = 9;  // "warning" and two spaces
constexpr std::string_view kColumnGap = "  ";

class Painter {
 public:
  explicit Painter(bool enabled) : enabled_(enabled) {}

  std::string paint(std::string_view text, std::string_view ansi) const {
    if (!enabled_ || ansi.empty()) return std::string(text);
    return fmt::format("{}{}{}", ansi, text, kReset);
  }

 private:
  bool enabled_;
};

// Messages can carry what a hostile server sent; control characters must not
// reach the terminal, where they could rewrite the screen.
std::string printable(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (c == '\t' || c == '\n' || c == '\r') {
      out += ' ';
    } else if (byte < 0x20 || byte == 0x7f) {
      out += '?';
    } else {
      out += c;
    }
  }
  return out;
}

// Columns count code points, not bytes, so UTF-8 names stay aligned.
std::size_t display_width(std::string_view text) {
  return static_cast<std::size_t>(std::count_if(text.begin(), text.end(), [](char c) {
    return (static_cast<unsigned char>(c) & 0xc0) != 0x80;
  }));
}

struct Cell {
  std::string text;
  std::string_view color;
};

constexpr std::size_t kColumnCount = 6;
constexpr std::size_t kLatencyColumn = kColumnCount - 1;
using Row = std::array<Cell, kColumnCount>;
using Widths = std::array<std::size_t, kColumnCount>;

Row header_row() {
  return {Cell{"TARGET", kBold}, Cell{"ADDRESS", kBold},   Cell{"RESULT", kBold},
          Cell{"PHASE", kBold},  Cell{"DIAGNOSIS", kBold}, Cell{"LATENCY", kBold}};
}

Row result_row(const ProbeResult& result) {
  const std::string_view failure_color = result.success ? "" : kRed;
  // A negative test that held shows what it observed: the raw diagnosis.
  const std::string expected = expected_outcome(result);
  return {
      Cell{printable(result.target), ""},
      Cell{result.address.empty() ? "-" : printable(result.address), ""},
      Cell{!expected.empty() ? expected
           : result.success  ? "ok"
                             : "FAIL",
           result.success ? kGreen : kRed},
      Cell{result.failed_phase ? std::string(phase_name(*result.failed_phase)) : "-", ""},
      Cell{std::string(code(expected.empty() ? result.diagnosis : *result.observed)),
           failure_color},
      Cell{format_latency(result.duration), ""},
  };
}

Widths column_widths(const std::vector<Row>& rows) {
  Widths widths{};
  for (const Row& row : rows) {
    for (std::size_t column = 0; column < kColumnCount; ++column) {
      widths[column] = std::max(widths[column], display_width(row[column].text));
    }
  }
  return widths;
}

// Left-aligned text columns, the latency right-aligned so magnitudes line up.
std::string render_row(const Row& row, const Widths& widths, const Painter& painter) {
  std::string line;
  for (std::size_t column = 0; column < kColumnCount; ++column) {
    const Cell& cell = row[column];
    const std::string padding(widths[column] - display_width(cell.text), ' ');
    if (column > 0) line += kColumnGap;
    if (column == kLatencyColumn) {
      line += padding + painter.paint(cell.text, cell.color);
    } else {
      line += painter.paint(cell.text, cell.color) + padding;
    }
  }
  return line + '\n';
}

std::vector<std::string> wrap_words(std::string_view text, std::size_t width) {
  std::vector<std::string> lines;
  std::string line;
  std::size_t start = 0;
  while (start < text.size()) {
    const std::size_t end = std::min(text.find(' ', start), text.size());
    const std::string_view word = text.substr(start, end - start);
    start = end + 1;
    if (word.empty()) continue;
    if (!line.empty() && display_width(line) + 1 + display_width(word) > width) {
      lines.push_back(std::move(line));
      line.clear();
    }
    if (!line.empty()) line += ' ';
    line += word;
  }
  if (!line.empty()) lines.push_back(std::move(line));
  return lines;
}

// "    remedy   first line of text ..." with continuation lines under the text.
std::string render_note(std::string_view label, std::string_view text, std::string_view label_color,
                        const Painter& painter) {
  const std::string indent(kNoteIndent.size() + kNoteLabelWidth, ' ');
  const std::vector<std::string> lines = wrap_words(printable(text), kWrapColumn - indent.size());
  std::string out;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    if (i == 0) {
      out += kNoteIndent;
      out += painter.paint(label, label_color);
      out += std::string(kNoteLabelWidth - label.size(), ' ');
    } else {
      out += indent;
    }
    out += lines[i] + '\n';
  }
  return out;
}

std::string render_notes(const ProbeResult& result, const Painter& painter) {
  std::string out;
  if (!result.success) {
    out += render_note("message", result.message, "", painter);
    out += render_note("meaning", meaning(result.diagnosis), "", painter);
    out += render_note("remedy", remedy(result.diagnosis), "", painter);
    out += render_note("doc", doc_link(code(result.diagnosis)), "", painter);
  }
  if (result.grpc) out += render_note("grpc", grpc_summary(*result.grpc), "", painter);
  for (const Warning& warning : result.warnings) {
    out += render_note("warning", warning.code + ": " + warning.message, kYellow, painter);
  }
  return out;
}

std::string render_hygiene(const HygieneReport& hygiene, const Painter& painter) {
  std::string out = painter.paint("HYGIENE", kBold) + '\n';
  if (!hygiene.error.empty()) {
    out += render_note("error", "the checks could not run: " + hygiene.error, kRed, painter);
  }
  if (hygiene.error.empty() && hygiene.findings.empty()) {
    out += kNoteIndent;
    out += painter.paint("ok", kGreen) + "  no findings\n";
  }
  for (const kube::Finding& finding : hygiene.findings) {
    out += painter.paint(finding.code, kRed);
    out += kColumnGap;
    out += printable(finding.object);
    if (!finding.webhook.empty()) {
      out += kColumnGap;
      out += printable(finding.webhook);
    }
    out += '\n';
    out += render_note("message", finding.message, "", painter);
    out += render_note("remedy", finding.remedy, "", painter);
    out += render_note("doc", doc_link(finding.code), "", painter);
  }
  for (const kube::CheckNote& note : hygiene.notes) {
    out += render_note("note", note.message, kYellow, painter);
    if (!note.rbac.empty()) {
      std::string needs = "RBAC";
      for (const std::string& rule : note.rbac) needs += (needs == "RBAC" ? " " : "; ") + rule;
      out += render_note("needs", needs, "", painter);
    }
  }
  return out + '\n';
}

// The last few webhook calls the API server failed, as FailedCreate events
// recorded them; nothing when none were seen and the list worked.
std::string render_observed(const kube::ObservedFailures& observed, const Painter& painter) {
  if (!observed.read || (observed.error.empty() && observed.recent.empty())) return {};
  std::string out = painter.paint("OBSERVED", kBold) + '\n';
  if (!observed.error.empty()) {
    out += render_note("error", "the FailedCreate events could not be listed: " + observed.error,
                       kYellow, painter);
  }
  for (const kube::ObservedFailure& failure : observed.recent) {
    out += painter.paint(code(failure.diagnosis), kRed);
    out += kColumnGap;
    out += printable(failure.object);
    out += kColumnGap;
    out += printable(failure.webhook) + '\n';
    out += render_note("time",
                       failure.time + " (" + std::to_string(failure.count) +
                           (failure.count == 1 ? " time)" : " times)"),
                       "", painter);
    out += render_note("message", failure.message, "", painter);
  }
  return out + '\n';
}

// One line per webhook: its verdict (kube::verdict_code: an ok the API
// server's real call did not confirm reads "unconfirmed"), the hop, then the
// message and remedy.
std::string render_verdicts(const HygieneReport& hygiene, const Painter& painter) {
  if (hygiene.verdicts.empty()) return {};
  std::string out = painter.paint("WEBHOOKS", kBold) + '\n';
  for (const kube::WebhookVerdict& verdict : hygiene.verdicts) {
    const std::string_view verdict_code = kube::verdict_code(verdict);
    const std::string_view color = verdict_code == "ok"  ? kGreen
                                   : verdict.confirmed() ? kRed
                                                         : kYellow;
    out += painter.paint(verdict_code, color);
    out += kColumnGap;
    out += printable(verdict.webhook);
    out += kColumnGap;
    out += "hop " + verdict.hop + '\n';
    out += render_note("message", verdict.message, "", painter);
    if (!verdict.remedy.empty()) out += render_note("remedy", verdict.remedy, "", painter);
    for (const std::string& note : verdict.notes) out += render_note("note", note, "", painter);
  }
  return out + '\n';
}

std::string render_summary(const std::vector<ProbeResult>& results, std::string_view vantage,
                           const Painter& painter, const HygieneReport* hygiene) {
  const std::size_t failed = failed_count(results);
  std::string line =
      fmt::format("{} {}, ", results.size(), results.size() == 1 ? "target" : "targets");
  line += painter.paint(fmt::format("{} failed", failed), failed == 0 ? kGreen : kRed);
  if (hygiene != nullptr && hygiene->ran) {
    const std::size_t findings = hygiene->findings.size();
    line += ", " + painter.paint(fmt::format("{} hygiene {}", findings,
                                             findings == 1 ? "finding" : "findings"),
                                 findings == 0 && hygiene->error.empty() ? kGreen : kRed);
    // A broken verdict may rest on no failed probe and no finding (the API
    // server's observed failed calls): the line must not read all green.
    const auto broken = std::count_if(
        hygiene->verdicts.begin(), hygiene->verdicts.end(),
        [](const kube::WebhookVerdict& verdict) { return verdict.diagnosis != Diagnosis::ok; });
    if (broken > 0) {
      line += ", " +
              painter.paint(
                  fmt::format("{} {} failing", broken, broken == 1 ? "webhook" : "webhooks"), kRed);
    }
  }
  if (!vantage.empty()) line += fmt::format(" (vantage {})", printable(vantage));
  return line + '\n';
}

}  // namespace

json::object result_json(const ProbeResult& result, std::string_view vantage) {
  json::object out;
  out["name"] = result.target;
  out["url"] = result.url;
  out["kind"] = kind_name(result.kind);
  out["address"] = string_or_null(result.address);
  out["vantage"] = result.vantage.empty() ? vantage : std::string_view(result.vantage);
  out["success"] = result.success;
  out["diagnosis"] = code(result.diagnosis);
  out["failed_phase"] =
      result.failed_phase ? json::value(phase_name(*result.failed_phase)) : json::value(nullptr);
  out["message"] = result.message;
  out["meaning"] = meaning(result.diagnosis);
  out["remedy"] = remedy(result.diagnosis);
  out["doc"] = doc_link(code(result.diagnosis));
  out["duration"] = in_seconds(result.duration);
  out["phases"] = phases_json(result.phases);
  if (result.kind == ProbeKind::https) {
    // 0 means no status line arrived: there is no status to report.
    out["http_status"] =
        result.http_status != 0 ? json::value(result.http_status) : json::value(nullptr);
  }
  if (result.kind == ProbeKind::grpc) {
    // null: the call never went out (no h2, no SETTINGS, or an earlier layer failed).
    out["grpc"] = result.grpc ? json::value(grpc_json(*result.grpc)) : json::value(nullptr);
  }
  if (result.tls) out["tls"] = tls_json(*result.tls);
  out["warnings"] = warnings_json(result.warnings);
  if (!result.expect.empty()) {
    json::array expect;
    for (Diagnosis d : kAllDiagnoses) {
      if (result.expect.contains(d)) expect.emplace_back(code(d));
    }
    out["expect"] = std::move(expect);
    out["observed"] = result.observed ? json::value(code(*result.observed)) : json::value(nullptr);
  }
  if (!result.address_labels.empty()) {
    json::object labels;
    for (const auto& [key, value] : result.address_labels) labels[key] = value;
    out["address_labels"] = std::move(labels);
  }
  return out;
}

json::array hygiene_json(const HygieneReport& hygiene) {
  json::array out;
  for (const kube::Finding& finding : hygiene.findings) {
    out.emplace_back(json::object{{"code", finding.code},
                                  {"object", finding.object},
                                  {"webhook", finding.webhook},
                                  {"message", finding.message},
                                  {"remedy", finding.remedy},
                                  {"doc", doc_link(finding.code)}});
  }
  return out;
}

json::array hygiene_notes_json(const HygieneReport& hygiene) {
  json::array out;
  for (const kube::CheckNote& note : hygiene.notes) {
    out.emplace_back(json::object{
        {"check", note.check}, {"message", note.message}, {"rbac", strings_json(note.rbac)}});
  }
  return out;
}

json::object observed_json(const kube::ObservedFailures& observed) {
  json::array totals;
  for (const kube::ObservedFailureCount& total : observed.totals) {
    totals.emplace_back(json::object{{"webhook", total.webhook},
                                     {"diagnosis", code(total.diagnosis)},
                                     {"failures", total.failures}});
  }
  json::array recent;
  for (const kube::ObservedFailure& failure : observed.recent) {
    recent.emplace_back(json::object{{"object", failure.object},
                                     {"webhook", failure.webhook},
                                     {"diagnosis", code(failure.diagnosis)},
                                     {"time", failure.time},
                                     {"count", failure.count},
                                     {"message", failure.message}});
  }
  return json::object{
      {"read", observed.read},
      {"error", observed.error.empty() ? json::value(nullptr) : json::value(observed.error)},
      {"totals", std::move(totals)},
      {"recent", std::move(recent)}};
}

json::array verdicts_json(const HygieneReport& hygiene) { return verdicts_json(hygiene.verdicts); }

json::array verdicts_json(std::span<const kube::WebhookVerdict> verdicts) {
  json::array out;
  for (const kube::WebhookVerdict& verdict : verdicts) {
    const std::string_view verdict_code = kube::verdict_code(verdict);
    json::object entry{{"webhook", verdict.webhook},
                       {"configuration", verdict.configuration},
                       {"diagnosis", verdict_code},
                       {"confirmed", verdict.confirmed()},
                       {"hop", verdict.hop},
                       {"message", verdict.message},
                       {"remedy", verdict.remedy},
                       {"platform", kube::platform_name(verdict.platform)},
                       {"notes", strings_json(verdict.notes)}};
    if (verdict.diagnosis != Diagnosis::ok) entry["doc"] = doc_link(code(verdict.diagnosis));
    out.emplace_back(std::move(entry));
  }
  return out;
}

json::object check_json(const std::vector<ProbeResult>& results, std::string_view vantage,
                        const HygieneReport* hygiene) {
  json::array rendered;
  for (const ProbeResult& result : results) {
    rendered.emplace_back(result_json(result, vantage));
  }
  json::object report{
      {"results", std::move(rendered)},
      {"summary", {{"total", results.size()}, {"failed", failed_count(results)}}},
  };
  if (hygiene != nullptr && hygiene->ran) {
    report["hygiene"] = hygiene_json(*hygiene);
    if (!hygiene->error.empty()) report["hygiene_error"] = hygiene->error;
    if (!hygiene->notes.empty()) report["hygiene_notes"] = hygiene_notes_json(*hygiene);
    report["verdicts"] = verdicts_json(*hygiene);
    report["observed"] = observed_json(hygiene->observed);
  }
  return report;
}

std::string render_json(const std::vector<ProbeResult>& results, std::string_view vantage,
                        const HygieneReport* hygiene) {
  return json::serialize(check_json(results, vantage, hygiene)) + '\n';
}

std::string render_table(const std::vector<ProbeResult>& results, std::string_view vantage,
                         bool color, const HygieneReport* hygiene) {
  const Painter painter(color);
  std::vector<Row> rows{header_row()};
  for (const ProbeResult& result : results) rows.push_back(result_row(result));
  const Widths widths = column_widths(rows);

  std::string out = render_row(rows.front(), widths, painter);
  for (std::size_t i = 0; i < results.size(); ++i) {
    out += render_row(rows[i + 1], widths, painter);
    out += render_notes(results[i], painter);
  }
  out += '\n';
  if (hygiene != nullptr && hygiene->ran) {
    out += render_hygiene(*hygiene, painter);
    out += render_verdicts(*hygiene, painter);
    out += render_observed(hygiene->observed, painter);
  }
  out += render_summary(results, vantage, painter, hygiene);
  return out;
}

}  // namespace meshprobe
