// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace tandem::run {

/// `[svd]`: the same settings as `tandem svd`'s options.
struct SvdPlan {
  bool present = false;
  std::vector<std::string> inputs;
  std::string random;  ///< BxMxN[:dtype][:seed=S], instead of inputs
  std::string output;
  std::string device = "auto";
  std::string algorithm = "auto";
  std::vector<int64_t> gpus;
  bool economy = false;
  bool values_only = false;
  bool check = false;
  bool canonical_signs = false;
  int64_t threads =
      0;  ///< CPU SVD workers at most (>= 1); absent (0) = as many as the budget allows
};

/// `[jobs]`: the same settings as `tandem map`'s options.
struct JobsPlan {
  bool present = false;
  std::string subjects;              ///< file: one per line, or a TSV with a header
  std::vector<std::string> args;     ///< subjects given inline
  std::vector<std::string> command;  ///< argv template with placeholders
  int64_t jobs = 0;                  ///< at most this many at once; 0 = the core budget decides
  std::string timeout;               ///< "90", "30m", "2h"; "" = none
  int64_t retries = 0;
  int64_t threads_per_job = 1;
  std::string mem_per_job;           ///< "4G"; "" = no memory gating
  std::vector<std::string> outputs;  ///< declared output templates
  std::string results;               ///< per-subject stdout/stderr directory
  std::string joblog;
  bool shell = false;
};

/// `[smooth]`: one built-in `tandem smooth` job per subject.
struct SmoothPlan {
  bool present = false;
  std::string subjects;
  std::vector<std::string> args;
  std::string input;   ///< template, e.g. "data/{}_bold.nii.gz"
  std::string output;  ///< template
  std::string fwhm;    ///< "6" or "6,6,8"
  int64_t threads_per_job = 1;
  std::string results;  ///< per-subject stdout/stderr directory ("" = failed jobs' logs only)
  /// `tandem smooth --device` of each job: auto, cpu or gpu. cpu by default: in a plan the GPU
  /// belongs to the SVD half and the jobs to the cores, and a CUDA context per subject process
  /// would crowd the card.
  std::string device = "cpu";
};

/// A whole plan. Any table may be absent (but not all of them).
struct Plan {
  std::string path;
  SvdPlan svd;
  JobsPlan jobs;
  SmoothPlan smooth;
  /// Where each value that was given came from, by "table.key": "plan.toml:7", or
  /// "--set table.key" for an override. Keys left at their defaults are absent.
  std::map<std::string, std::string> origins;

  /// True when the plan or an override gave `table`.`key`.
  bool given(const std::string& table, const std::string& key) const;
  /// How a message about that value begins: "plan.toml:7: [smooth] fwhm", "--set smooth.fwhm",
  /// or "plan.toml: [smooth] fwhm" for a default.
  std::string where(const std::string& table, const std::string& key) const;
};

/// Reads PLAN.toml and applies `overrides`: "TABLE.KEY=VALUE", VALUE in TOML syntax as in the
/// plan ("jobs.jobs=4", 'jobs.command=["echo", "{}"]', 'svd.output="r5"'). A VALUE that is not
/// TOML is taken as text ("svd.output=r5", "jobs.timeout=30m"), split at commas for an array of
/// strings ("jobs.args=a,b"). An unknown table or key, a value of the wrong type or out of range,
/// a missing required key or a malformed file is a UsageError naming the file, the line (or the
/// override), the key and the reason, before anything runs (see check_plan).
Plan parse_plan(const std::string& path, const std::vector<std::string>& overrides);

/// The same from TOML text (for tests); `name` stands for the file in messages.
Plan parse_plan_text(const std::string& text, const std::string& name,
                     const std::vector<std::string>& overrides);

}  // namespace tandem::run
