// SPDX-License-Identifier: Apache-2.0
#include "jobs/joblog.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <fstream>
#include <vector>

#include "core/error.h"

namespace tandem::jobs {

namespace {

constexpr const char* kHeader =
    "Seq\tHost\tStarttime\tJobRuntime\tSend\tReceive\tExitval\tSignal\tCommand\n";

std::vector<std::string> split_fields(const std::string& line, std::size_t max_fields) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (out.size() + 1 < max_fields) {
    auto tab = line.find('\t', start);
    if (tab == std::string::npos) break;
    out.push_back(line.substr(start, tab - start));
    start = tab + 1;
  }
  out.push_back(line.substr(start));
  return out;
}

bool parse_int(const std::string& text, int& value) {
  try {
    std::size_t used = 0;
    value = std::stoi(text, &used);
    return used == text.size();
  } catch (const std::exception&) {
    return false;
  }
}

}  // namespace

std::string format_joblog_line(const JobLogEntry& e) {
  std::string command = e.command;
  for (auto& c : command) {
    if (c == '\n') c = '\0';
  }
  char times[96];
  std::snprintf(times, sizeof times, "\t%.3f\t%10.3f\t0\t0\t%d\t%d\t", e.start_time, e.runtime,
                e.exit_value, e.signal);
  std::string host = e.host.empty() ? ":" : e.host;
  for (auto& c : host) {
    if (c == '\t' || c == '\n') c = ' ';
  }
  return std::to_string(e.seq) + "\t" + host + times + command + "\n";
}

JobLog::JobLog(const std::string& path) : path_(path) {
  fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd_ < 0) throw_system_error("cannot open the joblog", path, errno);
  if (::lseek(fd_, 0, SEEK_END) == 0) {
    std::string header = kHeader;
    if (::write(fd_, header.data(), header.size()) != static_cast<ssize_t>(header.size())) {
      throw_system_error("cannot write the joblog", path_, errno);
    }
  }
}

JobLog::~JobLog() {
  if (fd_ >= 0) ::close(fd_);
}

void JobLog::append(const JobLogEntry& entry) {
  std::string line = format_joblog_line(entry);
  // One write per line: with O_APPEND it lands whole at the end, and it is in the page cache
  // (so it survives SIGKILL of tandem) as soon as write returns.
  if (::write(fd_, line.data(), line.size()) != static_cast<ssize_t>(line.size())) {
    throw_system_error("cannot write the joblog", path_, errno);
  }
}

std::vector<JobLogEntry> read_joblog_entries(const std::string& path) {
  std::vector<JobLogEntry> entries;
  std::ifstream in(path);
  std::string line;
  if (!std::getline(in, line) || line.rfind("Seq\tHost\tStarttime", 0) != 0) return entries;
  while (std::getline(in, line)) {
    auto f = split_fields(line, 9);
    JobLogEntry e;
    int seq = 0;
    if (f.size() != 9 || !parse_int(f[0], seq) || !parse_int(f[6], e.exit_value) ||
        !parse_int(f[7], e.signal)) {
      continue;
    }
    try {
      e.start_time = std::stod(f[2]);
      e.runtime = std::stod(f[3]);
    } catch (const std::exception&) {
      continue;
    }
    e.seq = static_cast<std::size_t>(seq);
    e.host = f[1];
    e.command = f[8];
    for (auto& c : e.command) {
      if (c == '\0') c = '\n';
    }
    entries.push_back(std::move(e));
  }
  return entries;
}

JobLogHistory read_joblog(const std::string& path) {
  JobLogHistory history;
  std::ifstream in(path);
  if (!in) return history;
  std::string line;
  if (!std::getline(in, line)) return history;
  if (line.rfind("Seq\tHost\tStarttime", 0) != 0) {
    throw InputError(path, "line 1", "not a joblog (expected the header 'Seq Host Starttime ...')");
  }
  while (std::getline(in, line)) {
    auto fields = split_fields(line, 9);
    int exit_value = 0;
    int signal = 0;
    if (fields.size() != 9 || !parse_int(fields[6], exit_value) || !parse_int(fields[7], signal)) {
      continue;
    }
    std::string command = fields[8];
    for (auto& c : command) {
      if (c == '\0') c = '\n';
    }
    if (exit_value == 0 && signal == 0) {
      history.succeeded.insert(command);
      history.failed.erase(command);
    } else if (history.succeeded.count(command) == 0) {
      history.failed.insert(command);
    }
  }
  return history;
}

}  // namespace tandem::jobs
