// SPDX-License-Identifier: Apache-2.0
#include "core/report.h"

namespace tandem {

ReportWriter::ReportWriter(const std::string& path, const nlohmann::json& header) : file_(path) {
  std::string head = header.dump(1);
  // Re-open the header object so the items array streams inside it.
  head.erase(head.find_last_of('}'));
  while (!head.empty() && (head.back() == '\n' || head.back() == ' ')) head.pop_back();
  append(head + (header.empty() ? "" : ",") + "\n \"items\": [");
}

void ReportWriter::append(const std::string& text) {
  file_.pwrite_all(text.data(), text.size(), offset_);
  offset_ += text.size();
}

void ReportWriter::add_item(const nlohmann::json& item) {
  std::lock_guard<std::mutex> lock(mu_);
  append((first_ ? "\n  " : ",\n  ") + item.dump());
  first_ = false;
}

void ReportWriter::finish(const nlohmann::json& summary) {
  std::lock_guard<std::mutex> lock(mu_);
  append("\n ],\n \"summary\": " + summary.dump() + "\n}\n");
  file_.commit();
}

}  // namespace tandem
