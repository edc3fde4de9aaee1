// SPDX-License-Identifier: Apache-2.0
#include "run/plan_check.h"

#include <cmath>
#include <cstdlib>
#include <set>
#include <string>
#include <vector>

#include "core/error.h"
#include "jobs/units.h"
#include "smooth/fwhm_spec.h"
#include "svd/backend.h"
#include "svd/matrix_source.h"

namespace tandem::run {

namespace {

// The checks of one table; every failure names the key and where its value came from.
class TableCheck {
 public:
  TableCheck(const Plan& plan, const char* table) : plan_(plan), table_(table) {}

  [[noreturn]] void fail(const std::string& key, const std::string& reason) const {
    throw UsageError(plan_.where(table_, key) + ": " + reason);
  }
  bool given(const std::string& key) const { return plan_.given(table_, key); }

  // Runs one of the CLIs' parsers on the value of `key`, its message rewrapped.
  template <class Parse>
  void parse(const std::string& key, Parse&& parse_value) const {
    try {
      parse_value();
    } catch (const UsageError& e) {
      fail(key, without_flag(e.what()));
    }
  }

  void at_least(const std::string& key, int64_t value, int64_t min, const std::string& hint) const {
    if (given(key) && value < min) {
      fail(key,
           "must be at least " + std::to_string(min) + ", not " + std::to_string(value) + hint);
    }
  }

  void not_empty(const std::string& key, const std::string& value) const {
    if (given(key) && value.empty()) fail(key, "is empty");
  }

  void not_empty(const std::string& key, const std::vector<std::string>& values,
                 const std::string& hint) const {
    if (given(key) && values.empty()) fail(key, "the array is empty; " + hint);
    for (const std::string& v : values) {
      if (v.empty()) fail(key, "holds an empty string");
    }
  }

  // `subjects` (a file) or `args` (inline), exactly one of them.
  void subjects(const std::string& file, const std::vector<std::string>& args) const {
    not_empty("subjects", file);
    not_empty("args", args, "give at least one subject (or a subjects file instead)");
    if (!file.empty() && !args.empty()) {
      fail("args", "give the subjects with either subjects (a file) or args (an array), not both");
    }
    if (file.empty() && args.empty()) {
      throw UsageError(plan_.path + ": [" + table_ +
                       "] needs 'subjects' (a file) or 'args' (an array)");
    }
  }

  void require(bool ok, const std::string& message) const {
    if (!ok) throw UsageError(plan_.path + ": [" + table_ + "] " + message);
  }

 private:
  const Plan& plan_;
  std::string table_;
};

void check_svd(const Plan& plan) {
  const SvdPlan& s = plan.svd;
  TableCheck c(plan, "svd");
  c.not_empty("inputs", s.inputs, "give .npy/.npz files, directories or quoted globs");
  c.not_empty("random", s.random);
  c.not_empty("output", s.output);
  c.require(!s.inputs.empty() || !s.random.empty(),
            "needs 'inputs' (an array of files) or 'random' (BxMxN)");
  // `tandem svd` documents random data as the thing to run without inputs; beside inputs it
  // would write random.npz among their outputs, where an input named random.npy also goes.
  if (!s.inputs.empty() && !s.random.empty()) {
    c.fail("random", "give either inputs or random, not both");
  }
  c.require(s.inputs.empty() || !s.output.empty(), "needs 'output' (a directory) for its inputs");
  if (!s.random.empty()) c.parse("random", [&] { parse_random_spec(s.random); });
  c.parse("device", [&] { parse_device(s.device); });
  c.parse("algorithm", [&] { parse_algorithm(s.algorithm); });
  if (c.given("gpus") && s.gpus.empty()) {
    c.fail("gpus", "the array is empty; leave gpus out to use every visible GPU");
  }
  // Same rules as make_backend, but here with the plan's line instead of --gpus.
  std::set<int64_t> seen;
  for (int64_t g : s.gpus) {
    if (g < 0) c.fail("gpus", "device numbers start at 0, not " + std::to_string(g));
    if (!seen.insert(g).second) c.fail("gpus", "names device " + std::to_string(g) + " twice");
  }
  // As `tandem svd -j`: 0 is no number of workers; leaving the key out is "as many as fit".
  c.at_least("threads", s.threads, 1, " (leave threads out to use the core budget)");
  if (s.values_only && (s.check || s.canonical_signs)) {
    c.fail(s.check ? "check" : "canonical_signs",
           "needs U and Vh, which values_only does not compute");
  }
}

void check_jobs(const Plan& plan) {
  const JobsPlan& j = plan.jobs;
  TableCheck c(plan, "jobs");
  c.not_empty("command", j.command, "give the program and its arguments");
  c.require(!j.command.empty(), "needs 'command' (an array: program and arguments)");
  c.subjects(j.subjects, j.args);
  // As `tandem map -j`, where 0 is the default.
  if (j.jobs < 0) {
    c.fail("jobs",
           "must be at least 1, or 0 to let the core budget decide, not " + std::to_string(j.jobs));
  }
  if (!j.timeout.empty()) c.parse("timeout", [&] { jobs::parse_duration(j.timeout, "--timeout"); });
  c.not_empty("timeout", j.timeout);
  c.at_least("retries", j.retries, 0, "");
  c.at_least("threads_per_job", j.threads_per_job, 1, "");
  if (!j.mem_per_job.empty()) {
    c.parse("mem_per_job", [&] { jobs::parse_bytes(j.mem_per_job, "--mem-per-job"); });
  }
  c.not_empty("mem_per_job", j.mem_per_job);
  if (c.given("outputs")) c.not_empty("outputs", j.outputs, "leave outputs out to declare none");
  c.not_empty("results", j.results);
  c.not_empty("joblog", j.joblog);
}

void check_smooth(const Plan& plan) {
  const SmoothPlan& s = plan.smooth;
  TableCheck c(plan, "smooth");
  c.not_empty("input", s.input);
  c.not_empty("output", s.output);
  c.not_empty("fwhm", s.fwhm);
  c.require(!s.input.empty() && !s.output.empty() && !s.fwhm.empty(),
            "needs 'input', 'output' (templates) and 'fwhm'");
  c.subjects(s.subjects, s.args);
  c.parse("fwhm", [&] { parse_fwhm(s.fwhm); });
  c.at_least("threads_per_job", s.threads_per_job, 1, "");
  c.not_empty("results", s.results);
  c.parse("device", [&] { parse_device(s.device); });
}

}  // namespace

std::string without_flag(const std::string& message) {
  if (message.rfind("--", 0) != 0 && message.rfind("map: ", 0) != 0) return message;
  const auto colon = message.find(": ");
  return colon == std::string::npos ? message : message.substr(colon + 2);
}

void check_plan(const Plan& plan) {
  if (!plan.svd.present && !plan.jobs.present && !plan.smooth.present) {
    throw UsageError(plan.path + ": the plan has none of the tables [svd], [jobs], [smooth]");
  }
  if (plan.svd.present) check_svd(plan);
  if (plan.jobs.present) check_jobs(plan);
  if (plan.smooth.present) check_smooth(plan);
}

}  // namespace tandem::run
