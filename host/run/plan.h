// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace tandem::run {

/// `[svd]`: the same settings as `tandem svd`'s options.
struct SvdPlan {
  bool present = false;
  std::vector<std::string> inputs;
  std::string random;  ///< BxMxN[:dtype][:seed=S], instead of or besides inputs
  std::string output;
  std::string device = "auto";
  std::string algorithm = "auto";
  std::vector<int64_t> gpus;
  bool economy = false;
  bool values_only = false;
  bool check = false;
  bool canonical_signs = false;
  int64_t threads = 0;  ///< CPU SVD workers at most; 0 = as many as the core budget allows
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
};

/// Reads PLAN.toml and applies `overrides` ("jobs.jobs=4", "svd.device=cpu", arrays as
/// comma-separated values). An unknown table or key, a value of the wrong type, a missing
/// required key or a malformed file is a UsageError naming the file, the line, the key and what
/// was expected, before anything runs.
Plan parse_plan(const std::string& path, const std::vector<std::string>& overrides);

/// The same from TOML text (for tests); `name` stands for the file in messages.
Plan parse_plan_text(const std::string& text, const std::string& name,
                     const std::vector<std::string>& overrides);

}  // namespace tandem::run
