// Pieces of the Prometheus text exposition format shared by the writers of
// /metrics (probe series and Kubernetes-mode series).
#pragma once

#include <string>
#include <string_view>

namespace meshprobe {

// Appends a label value with \, " and newline escaped.
void append_escaped_label_value(std::string& out, std::string_view value);

// Appends NAME="VALUE", preceded by a comma unless `out` is empty.
void append_label(std::string& out, std::string_view name, std::string_view value);

// Appends the # HELP and # TYPE lines of a metric family.
void append_metric_header(std::string& out, std::string_view name, std::string_view type,
                          std::string_view help);

}  // namespace meshprobe
