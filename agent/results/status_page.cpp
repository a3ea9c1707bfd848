// /status and / render the same store. A result's last-probe part is the
// object `check --output json` prints (report.h), so both outputs describe a
// probe identically; the store adds history and streaks around it.
#include "agent/results/status_page.h"

#include <boost/json.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <string_view>

#include "agent/results/check_report.h"
#include "agent/results/format.h"

namespace meshprobe {
namespace {

namespace json = boost::json;

// ---- JSON -----------------------------------------------------------------

json::value time_or_null(const std::optional<WallClock::time_point>& time) {
  if (!time) return nullptr;
  return json::string(rfc3339(*time));
}

json::array history_json(const std::vector<HistoryEntry>& history) {
  json::array out;
  for (const HistoryEntry& entry : history) {
    out.emplace_back(json::object{{"at", rfc3339(entry.at)},
                                  {"success", entry.success},
                                  {"diagnosis", code(entry.diagnosis())},
                                  {"duration", in_seconds(entry.duration())}});
  }
  return out;
}

json::object address_json(const AddressState& state, std::string_view vantage) {
  // The target and the agent carry these once. Copied rather than erased:
  // json::object::erase moves the last member into the hole, and the order
  // should read like `check --output json`.
  json::object out;
  for (const json::key_value_pair& member : result_json(state.last, vantage)) {
    const std::string_view key = member.key();
    if (key == "name" || key == "url" || key == "kind" || key == "vantage") continue;
    out[key] = member.value();
  }
  out["probed_at"] = rfc3339(state.last.started_at);
  out["last_success"] = time_or_null(state.last_success);
  out["consecutive_successes"] = state.consecutive_successes;
  out["consecutive_failures"] = state.consecutive_failures;
  out["transitions"] = state.transitions;
  out["probes"] = state.probes;
  out["history"] = history_json(state.history);
  return out;
}

json::object target_json(const TargetState& state, std::string_view vantage) {
  json::array addresses;
  for (const auto& [address, address_state] : state.addresses) {
    addresses.emplace_back(address_json(address_state, vantage));
  }
  json::object out;
  out["name"] = state.target ? state.target->name : std::string();
  out["url"] = state.target ? state.target->url : std::string();
  out["kind"] = state.target ? kind_name(state.target->kind) : "";
  // Probed from elsewhere (e.g. through the API server): said once here,
  // since address entries leave the vantage to the agent.
  if (state.target && !state.target->vantage.empty()) out["vantage"] = state.target->vantage;
  out["interval"] = std::chrono::duration<double>(state.interval).count();
  json::object labels;
  if (state.target) {
    for (const auto& [key, value] : state.target->labels) labels[key] = value;
  }
  out["labels"] = std::move(labels);
  out["rounds"] = state.rounds;
  out["skipped"] = state.skipped;
  out["addresses"] = std::move(addresses);
  return out;
}

// ---- HTML -----------------------------------------------------------------

// Every dynamic string goes through here: target names come from config, and
// messages quote what a possibly hostile server sent.
std::string html_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default:
        // Control characters have no business on the page.
        out += (byte < 0x20 || byte == 0x7f) ? ' ' : c;
    }
  }
  return out;
}

std::string time_since(const std::optional<WallClock::time_point>& time,
                       WallClock::time_point now) {
  if (!time) return "never";
  const auto seconds = std::max<std::int64_t>(
      0, std::chrono::duration_cast<std::chrono::seconds>(now - *time).count());
  if (seconds < 120) return fmt::format("{} s ago", seconds);
  if (seconds < 2 * 3600) return fmt::format("{} min ago", seconds / 60);
  if (seconds < 2 * 86400) return fmt::format("{} h ago", seconds / 3600);
  return fmt::format("{} d ago", seconds / 86400);
}

struct Badge {
  std::string_view css_class;
  std::string_view text;
};

Badge badge(const ProbeResult& result) {
  if (!result.success) return {"fail", "failing"};
  if (!result.warnings.empty()) return {"warn", "warning"};
  return {"ok", "ok"};
}

// What a person should read in the message column: the failure, or the
// warnings of a probe that passed.
std::string message_text(const ProbeResult& result) {
  if (!result.success) return result.message;
  std::string out;
  for (const Warning& warning : result.warnings) {
    if (!out.empty()) out += "; ";
    out += warning.code + ": " + warning.message;
  }
  return out;
}

std::string streak_text(const AddressState& state) {
  if (state.consecutive_failures > 0) {
    return fmt::format("{} failed", state.consecutive_failures);
  }
  return fmt::format("{} ok", state.consecutive_successes);
}

// Latency over the history as a line, failed probes as red dots. Scaled to the
// slowest probe shown, so the shape matters, not the axis; the title has the
// numbers.
std::string sparkline(const std::vector<HistoryEntry>& history) {
  if (history.empty()) return "";
  constexpr double kWidth = 120, kHeight = 24, kPad = 3;
  Duration slowest{1};
  for (const HistoryEntry& entry : history) {
    slowest = std::max(slowest, entry.duration());
  }
  const double step =
      history.size() > 1 ? (kWidth - 2 * kPad) / static_cast<double>(history.size() - 1) : 0;
  std::string points;
  std::string failures;
  for (std::size_t i = 0; i < history.size(); ++i) {
    const double share = in_seconds(history[i].duration()) / in_seconds(slowest);
    const double x = kPad + step * static_cast<double>(i);
    const double y = kHeight - kPad - share * (kHeight - 2 * kPad);
    points += fmt::format("{}{:.1f},{:.1f}", points.empty() ? "" : " ", x, y);
    if (!history[i].success) {
      failures += fmt::format(R"(<circle cx="{:.1f}" cy="{:.1f}" r="2.5"/>)", x, y);
    }
  }
  return fmt::format(R"(<svg class="spark" width="{}" height="{}" viewBox="0 0 {} {}" role="img">)"
                     R"(<title>last {} {}, slowest {}</title>)"
                     R"(<polyline points="{}"/><g>{}</g></svg>)",
                     kWidth, kHeight, kWidth, kHeight, history.size(),
                     history.size() == 1 ? "probe" : "probes", format_latency(slowest), points,
                     failures);
}

std::string cell(std::string_view escaped_html, std::string_view css_class = "") {
  if (css_class.empty()) return fmt::format("<td>{}</td>", escaped_html);
  return fmt::format(R"(<td class="{}">{}</td>)", css_class, escaped_html);
}

// The code, linked to its section of the diagnoses page.
std::string diagnosis_link(std::string_view code) {
  return fmt::format(R"(<a href="{}">{}</a>)", html_escape(doc_link(code)), html_escape(code));
}

std::string target_cells(const Target* target) {
  if (!target) return cell("") + cell("");
  return cell(html_escape(target->name)) + cell(html_escape(target->url), "url");
}

std::string address_row(const Target* target, const std::string& address, const AddressState& state,
                        WallClock::time_point now) {
  const ProbeResult& last = state.last;
  const Badge status = badge(last);
  std::string row = "<tr>" + target_cells(target);
  std::string address_text = address.empty() ? "&mdash;" : html_escape(address);
  // A discovered endpoint: which pod, and whether the Service counts it ready.
  const auto& labels = last.address_labels;
  if (auto pod = labels.find("pod"); pod != labels.end()) {
    address_text += "<br><small>" + html_escape(pod->second) + "</small>";
  }
  if (auto ready = labels.find("ready"); ready != labels.end() && ready->second == "false") {
    address_text += " <small>(not ready)</small>";
  }
  if (!last.vantage.empty())
    address_text += " <small>via " + html_escape(last.vantage) + "</small>";
  row += cell(address_text);
  row += cell(fmt::format(R"(<span class="badge {}">{}</span>)", status.css_class, status.text));
  std::string diagnosis_text = diagnosis_link(code(last.diagnosis));
  if (const std::string expected = expected_outcome(last); !expected.empty()) {
    diagnosis_text += " <small>" + html_escape(expected) + ": " +
                      diagnosis_link(code(*last.observed)) + "</small>";
  }
  row += cell(diagnosis_text, "code");
  std::string message = html_escape(message_text(last));
  if (last.grpc) {
    message += (message.empty() ? "" : "<br>") + std::string("<small>gRPC ") +
               html_escape(grpc_summary(*last.grpc)) + "</small>";
  }
  row += cell(message);
  row += cell(last.success ? "" : html_escape(remedy(last.diagnosis)));
  row += cell(html_escape(time_since(state.last_success, now)));
  row += cell(html_escape(format_latency(last.duration)), "num");
  row += cell(html_escape(streak_text(state)), "num");
  row += cell(sparkline(state.history));
  return row + "</tr>\n";
}

// A target that has not finished a round yet still gets its row.
std::string pending_row(const Target* target) {
  return "<tr>" + target_cells(target) + cell("&mdash;") +
         cell(R"(<span class="badge pending">pending</span>)") + cell("") + cell("no result yet") +
         cell("") + cell("never") + cell("") + cell("") + cell("") + "</tr>\n";
}

constexpr std::string_view kStyle = R"(
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #222; }
h1 { font-size: 1.3em; margin: 0 0 .2em; }
header p { margin: 0 0 1em; color: #555; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; vertical-align: top; padding: .35em .6em; border-bottom: 1px solid #ddd; }
th { background: #f4f4f4; }
td.url, td.code { font-family: ui-monospace, monospace; word-break: break-all; }
td.num { text-align: right; white-space: nowrap; }
.badge { padding: .1em .5em; border-radius: .6em; color: #fff; font-weight: 600; }
.badge.ok { background: #2e7d32; }
.badge.fail { background: #c62828; }
.badge.warn { background: #f9a825; color: #222; }
.badge.pending { background: #9e9e9e; }
svg.spark polyline { fill: none; stroke: #1565c0; stroke-width: 1.5; }
svg.spark circle { fill: #c62828; }
h2 { font-size: 1.1em; margin: 1.5em 0 .3em; }
p.err { color: #c62828; }
)";

constexpr std::string_view kTableHead =
    "<tr><th>Target</th><th>URL</th><th>Address</th><th>Status</th>"
    "<th>Diagnosis</th><th>Message</th><th>Remedy</th><th>Last success</th>"
    "<th>Latency</th><th>Streak</th><th>Recent latency</th></tr>\n";

std::string page_header(const ResultsStore& store, const AgentIdentity& identity,
                        WallClock::time_point now) {
  return fmt::format(
      "<header><h1>meshprobe</h1><p>vantage <b>{}</b> &middot; node {} "
      "&middot; version {} &middot; {} &middot; as of {}</p></header>\n",
      html_escape(identity.vantage), html_escape(identity.node_name), html_escape(identity.version),
      store.first_round_complete() ? "ready" : "waiting for the first round", rfc3339(now));
}

json::object kubernetes_json(const KubeStatus& kube) {
  json::array errors;
  for (const std::string& error : kube.errors) errors.emplace_back(error);
  json::object out;
  out["connection"] = kube.connection;
  out["last_refresh"] = time_or_null(kube.last_refresh);
  out["last_refresh_ok"] = kube.last_refresh_ok;
  out["errors"] = std::move(errors);
  out["hygiene_checked_at"] = time_or_null(kube.hygiene.checked_at);
  out["hygiene_error"] =
      kube.hygiene.error.empty() ? json::value(nullptr) : json::value(kube.hygiene.error);
  out["hygiene_notes"] = hygiene_notes_json(kube.hygiene);
  return out;
}

std::string hygiene_rows(const HygieneReport& hygiene) {
  std::string rows;
  for (const kube::Finding& finding : hygiene.findings) {
    rows += "<tr>" + cell(diagnosis_link(finding.code), "code") +
            cell(html_escape(finding.object)) + cell(html_escape(finding.webhook)) +
            cell(html_escape(finding.message)) + cell(html_escape(finding.remedy)) + "</tr>\n";
  }
  return rows;
}

// The hygiene section of the page: findings, or why there are none.
std::string hygiene_section(const KubeStatus& kube) {
  std::string out = "<h2>Webhook hygiene</h2>\n<p>Kubernetes: " + html_escape(kube.connection);
  if (kube.last_refresh) out += " &middot; last read " + rfc3339(*kube.last_refresh);
  if (!kube.last_refresh_ok) out += R"( &middot; <span class="badge fail">read failed</span>)";
  out += "</p>\n";
  for (const std::string& error : kube.errors)
    out += "<p class=\"err\">" + html_escape(error) + "</p>\n";
  if (!kube.hygiene.ran) return out + "<p>Hygiene checks are off.</p>\n";
  if (!kube.hygiene.error.empty()) {
    out +=
        "<p class=\"err\">The checks could not run: " + html_escape(kube.hygiene.error) + "</p>\n";
  } else if (kube.hygiene.findings.empty()) {
    out += R"(<p><span class="badge ok">ok</span> no findings</p>)"
           "\n";
  } else {
    out +=
        "<table>\n<thead><tr><th>Finding</th><th>Object</th><th>Webhook</th><th>Message</th>"
        "<th>Remedy</th></tr></thead>\n<tbody>\n" +
        hygiene_rows(kube.hygiene) + "</tbody>\n</table>\n";
  }
  for (const kube::CheckNote& note : kube.hygiene.notes) {
    out += "<p>" + html_escape(note.message);
    if (!note.rbac.empty()) {
      out += "<br><small>needs RBAC:";
      for (const std::string& rule : note.rbac) out += " " + html_escape(rule) + ";";
      out.back() = '.';
      out += "</small>";
    }
    out += "</p>\n";
  }
  return out;
}

// The observed webhook-call failures: the last few, and the counters.
std::string observed_section(const KubeStatus& kube) {
  const kube::ObservedFailures& observed = kube.hygiene.observed;
  if (!observed.read) return {};
  std::string out = "<h2>Observed webhook failures</h2>\n";
  if (!observed.error.empty()) {
    out += "<p class=\"err\">The FailedCreate events could not be listed: " +
           html_escape(observed.error) + "</p>\n";
  }
  if (observed.recent.empty()) {
    return out + "<p>No FailedCreate event names a webhook call failure.</p>\n";
  }
  out +=
      "<table>\n<thead><tr><th>Diagnosis</th><th>Object</th><th>Webhook</th><th>Time</th>"
      "<th>Count</th><th>The API server said</th></tr></thead>\n<tbody>\n";
  for (const kube::ObservedFailure& failure : observed.recent) {
    out += "<tr>" + cell(diagnosis_link(code(failure.diagnosis)), "code") +
           cell(html_escape(failure.object)) + cell(html_escape(failure.webhook)) +
           cell(html_escape(failure.time)) + cell(std::to_string(failure.count)) +
           cell(html_escape(failure.message)) + "</tr>\n";
  }
  return out + "</tbody>\n</table>\n";
}

// The verdicts of the webhooks, one row each; nothing before the first.
std::string webhooks_section(std::span<const kube::WebhookVerdict> verdicts) {
  if (verdicts.empty()) return {};
  std::string rows;
  for (const kube::WebhookVerdict& verdict : verdicts) {
    const std::string_view verdict_code = kube::verdict_code(verdict);
    const std::string_view css_class = verdict_code == "ok"  ? "ok"
                                       : verdict.confirmed() ? "fail"
                                                             : "warn";
    std::string remedy = html_escape(verdict.remedy);
    for (const std::string& note : verdict.notes) {
      remedy +=
          (remedy.empty() ? "" : "<br>") + std::string("<small>") + html_escape(note) + "</small>";
    }
    const std::string diagnosis = verdict.diagnosis == Diagnosis::ok ? html_escape(verdict_code)
                                                                     : diagnosis_link(verdict_code);
    rows += "<tr>" + cell(html_escape(verdict.webhook)) + cell(html_escape(verdict.configuration)) +
            cell(fmt::format(R"(<span class="badge {}">{}</span>)", css_class,
                             html_escape(verdict_code))) +
            cell(diagnosis, "code") + cell(html_escape(verdict.hop)) +
            cell(html_escape(verdict.message)) + cell(remedy) + "</tr>\n";
  }
  return "<h2>Webhooks</h2>\n<table>\n<thead><tr><th>Webhook</th><th>Configuration</th>"
         "<th>Verdict</th><th>Diagnosis</th><th>Hop</th><th>Message</th><th>Remedy</th></tr>"
         "</thead>\n<tbody>\n" +
         rows + "</tbody>\n</table>\n";
}

}  // namespace

std::string render_status_json(const ResultsStore& store, const AgentIdentity& identity,
                               const KubeStatus* kube,
                               std::span<const kube::WebhookVerdict> verdicts) {
  json::array targets;
  for (const TargetState& state : store.targets()) {
    targets.emplace_back(target_json(state, identity.vantage));
  }
  json::object status{
      {"vantage", identity.vantage},           {"node", identity.node_name},
      {"version", identity.version},           {"config", identity.config_source},
      {"ready", store.first_round_complete()}, {"targets", std::move(targets)},
  };
  if (kube != nullptr) {
    status["kubernetes"] = kubernetes_json(*kube);
    if (kube->hygiene.ran) {
      status["hygiene"] = hygiene_json(kube->hygiene);
      status["verdicts"] = verdicts_json(verdicts);
    }
    if (kube->hygiene.observed.read) status["observed"] = observed_json(kube->hygiene.observed);
  }
  return json::serialize(status) + '\n';
}

std::string render_status_html(const ResultsStore& store, const AgentIdentity& identity,
                               const KubeStatus* kube,
                               std::span<const kube::WebhookVerdict> verdicts) {
  const WallClock::time_point now = WallClock::now();
  std::string rows;
  for (const TargetState& state : store.targets()) {
    const Target* target = state.target.get();
    if (state.addresses.empty()) rows += pending_row(target);
    for (const auto& [address, address_state] : state.addresses) {
      rows += address_row(target, address, address_state, now);
    }
  }
  return fmt::format(
      "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
      "<meta http-equiv=\"refresh\" content=\"10\">\n"
      "<title>meshprobe &middot; {}</title>\n<style>{}</style>\n</head>\n<body>\n"
      "{}<table>\n<thead>\n{}</thead>\n<tbody>\n{}</tbody>\n</table>\n"
      "{}{}</body>\n</html>\n",
      html_escape(identity.vantage), kStyle, page_header(store, identity, now), kTableHead, rows,
      kube != nullptr ? webhooks_section(verdicts) + hygiene_section(*kube) : std::string(),
      kube != nullptr ? observed_section(*kube) : std::string());
}

}  // namespace meshprobe
