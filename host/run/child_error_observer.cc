// SPDX-License-Identifier: Apache-2.0
#include "run/child_error_observer.h"

#include "jobs/report.h"

namespace tandem::run {

namespace {

constexpr const char* kErrorPrefix = "tandem: error: ";

// The child prints its error last, followed at most by a line such as "tandem: interrupted":
// the end of a log file is enough.
constexpr std::size_t kLogLinesSearched = 20;

std::string error_in_line(const std::string& line) {
  const std::string prefix = kErrorPrefix;
  if (line.compare(0, prefix.size(), prefix) != 0) return "";
  std::string reason = line.substr(prefix.size());
  while (!reason.empty() && (reason.back() == '\r' || reason.back() == '\n')) reason.pop_back();
  return reason;
}

}  // namespace

std::string last_tandem_error(const std::string& err) {
  std::string found;
  for (std::size_t start = 0; start < err.size();) {
    std::size_t end = err.find('\n', start);
    if (end == std::string::npos) end = err.size();
    std::string reason = error_in_line(err.substr(start, end - start));
    if (!reason.empty()) found = reason;
    start = end + 1;
  }
  return found;
}

void ChildErrorObserver::job_started(const jobs::JobResult& job, int slot) {
  if (inner_) inner_->job_started(job, slot);
}

void ChildErrorObserver::job_retrying(const jobs::JobResult& job, double delay) {
  if (inner_) inner_->job_retrying(job, delay);
}

void ChildErrorObserver::job_output(const jobs::JobResult& job, const std::string& out,
                                    const std::string& err) {
  child_error_[job.seq] = last_tandem_error(err);
  if (inner_) inner_->job_output(job, out, err);
}

void ChildErrorObserver::job_finished(const jobs::JobResult& job) {
  if (!jobs::is_failure(job.outcome)) {
    if (inner_) inner_->job_finished(job);
    return;
  }
  std::string reason;
  auto captured = child_error_.find(job.seq);
  if (captured != child_error_.end()) {
    reason = captured->second;
  } else if (!job.stderr_path.empty()) {
    for (const auto& line : jobs::tail_lines(job.stderr_path, kLogLinesSearched)) {
      std::string r = error_in_line(line);
      if (!r.empty()) reason = r;
    }
  }
  jobs::JobResult amended = job;
  if (!reason.empty()) {
    amended.message = job.message.empty() ? reason : reason + " (" + job.message + ")";
    message_[job.seq] = amended.message;
  }
  if (inner_) inner_->job_finished(amended);
}

void ChildErrorObserver::progress(const jobs::PoolProgress& progress) {
  if (inner_) inner_->progress(progress);
}

void ChildErrorObserver::stopping(const std::string& reason) {
  if (inner_) inner_->stopping(reason);
}

void ChildErrorObserver::amend(jobs::MapResult& result) const {
  for (auto& r : result.results) {
    auto m = message_.find(r.seq);
    if (m != message_.end()) r.message = m->second;
  }
}

}  // namespace tandem::run
