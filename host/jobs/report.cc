// SPDX-License-Identifier: Apache-2.0
#include "jobs/report.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/filesystem.hpp>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <deque>
#include <fstream>
#include <map>
#include <utility>

#include "core/error.h"
#include "core/report.h"

namespace tandem::jobs {

namespace {

std::string iso_time(double epoch) {
  if (epoch <= 0) return "";
  std::time_t seconds = static_cast<std::time_t>(epoch);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char buf[40];
  int millis = static_cast<int>((epoch - static_cast<double>(seconds)) * 1000);
  std::size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  std::snprintf(buf + n, sizeof buf - n, ".%03dZ", millis);
  return buf;
}

nlohmann::json subject_record(const JobResult& r) {
  nlohmann::json outputs = nlohmann::json::array();
  for (const auto& p : r.outputs) {
    boost::system::error_code ec;
    outputs.push_back({{"path", p}, {"exists", boost::filesystem::exists(p, ec)}});
  }
  nlohmann::json rec = {{"subject", r.name},
                        {"seq", r.seq},
                        {"command", r.command},
                        {"attempts", r.attempts},
                        {"start", iso_time(r.start_time)},
                        {"duration_s", r.duration},
                        {"outcome", outcome_name(r.outcome)},
                        {"peak_rss_bytes", r.peak_rss_bytes},
                        {"message", r.message},
                        {"outputs", outputs}};
  rec["exit_code"] = r.exit_code >= 0 ? nlohmann::json(r.exit_code) : nlohmann::json(nullptr);
  rec["signal"] = r.signal > 0 ? nlohmann::json(r.signal) : nlohmann::json(nullptr);
  rec["stdout"] = r.stdout_path.empty() ? nlohmann::json(nullptr) : nlohmann::json(r.stdout_path);
  rec["stderr"] = r.stderr_path.empty() ? nlohmann::json(nullptr) : nlohmann::json(r.stderr_path);
  return rec;
}

}  // namespace

MapCounts count_subjects(const MapResult& result) {
  MapCounts c;
  for (const auto& r : result.results) {
    if (r.outcome == Outcome::kOk) ++c.ok;
    if (r.outcome == Outcome::kSkipped) ++c.skipped;
    if (r.outcome == Outcome::kNotStarted) ++c.not_started;
    if (is_failure(r.outcome) && r.outcome != Outcome::kNotStarted) ++c.failed;
  }
  return c;
}

nlohmann::json map_report(const MapResult& result, int exit_code) {
  std::map<std::string, int> counts;
  nlohmann::json subjects = nlohmann::json::array();
  for (const auto& r : result.results) {
    ++counts[outcome_name(r.outcome)];
    subjects.push_back(subject_record(r));
  }
  const MapCounts c = count_subjects(result);
  nlohmann::json summary = {{"subjects", result.results.size()},
                            {"ok", c.ok},
                            {"failed", c.failed},
                            {"skipped", c.skipped},
                            {"not_started", c.not_started},
                            {"outcomes", counts},
                            {"wall_s", result.wall_seconds},
                            {"interrupted", result.interrupted},
                            {"halted", result.halted},
                            {"exit_code", exit_code}};
  if (result.shard) {
    summary["shard"] = {{"index", result.shard->index},
                        {"count", result.shard->count},
                        {"all_subjects", result.total_subjects}};
  }
  return {{"command", "map"}, {"summary", summary}, {"subjects", subjects}};
}

MapReportFile::MapReportFile(std::string path) : path_(std::move(path)) {
  struct stat st {};
  // open() would create the temporary in a directory named like the report and only the final
  // rename would fail.
  if (::stat(path_.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
    throw UsageError("cannot write the report: " + path_ + ": is a directory");
  }
  auto slash = path_.find_last_of('/');
  std::string dir = slash == std::string::npos ? "" : path_.substr(0, slash + 1);
  std::string name = slash == std::string::npos ? path_ : path_.substr(slash + 1);
  temp_ = dir + "." + name + ".tmp-" + std::to_string(::getpid()) + "-report";
  fd_ = ::open(temp_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd_ < 0) {
    const int err = errno;
    temp_.clear();
    throw UsageError("cannot write the report: " + path_ + ": " + std::strerror(err));
  }
}

MapReportFile::~MapReportFile() {
  if (fd_ >= 0) ::close(fd_);
  if (!temp_.empty()) ::unlink(temp_.c_str());
}

void MapReportFile::fail(int err) {
  throw Error("cannot write the report: " + path_ + ": " + std::strerror(err));
}

void MapReportFile::write(const MapResult& result, int exit_code) {
  TANDEM_EXPECTS(fd_ >= 0, "a report is written once");
  const std::string text = dump_json(map_report(result, exit_code), 2) + "\n";
  for (std::size_t done = 0; done < text.size();) {
    ssize_t n = ::write(fd_, text.data() + done, text.size() - done);
    if (n < 0 && errno != EINTR) fail(errno);
    if (n > 0) done += static_cast<std::size_t>(n);
  }
  // fdatasync before rename: after a power cut the final name never points at missing data.
  if (::fdatasync(fd_) != 0 && errno != EINVAL) fail(errno);
  const int closed = ::close(std::exchange(fd_, -1));
  if (closed != 0) fail(errno);
  if (::rename(temp_.c_str(), path_.c_str()) != 0) fail(errno);
  temp_.clear();
}

std::vector<std::string> tail_lines(const std::string& path, std::size_t lines) {
  std::ifstream in(path);
  std::deque<std::string> last;
  for (std::string line; std::getline(in, line);) {
    last.push_back(line);
    if (last.size() > lines) last.pop_front();
  }
  return {last.begin(), last.end()};
}

int map_exit_code(const MapResult& result) {
  if (result.interrupted) return 130;
  for (const auto& r : result.results) {
    if (is_failure(r.outcome)) return 1;
  }
  return 0;
}

}  // namespace tandem::jobs
