// SPDX-License-Identifier: Apache-2.0
#include "run/runner.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>
#include <vector>

#include "core/error.h"
#include "run/child_error_observer.h"
#include "run/plan.h"

namespace tandem::run {
namespace {

namespace fs = std::filesystem;

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// Intervals during which some piece of work held `cores` cores.
struct Interval {
  double start, end;
  int cores;
};

// A CPU-like backend that records when each call computes (inside its budget hold).
class RecordingBackend : public Backend {
 public:
  explicit RecordingBackend(int callers) : callers_(callers) {}
  std::string name() const override { return "recording"; }
  BackendTraits traits() const override { return {callers_, 0, true}; }
  std::vector<ItemResult> svd(const std::vector<SvdTask>& batch, const SvdOptions&) override {
    double t0 = now_seconds();
    std::this_thread::sleep_for(std::chrono::milliseconds(40));
    double t1 = now_seconds();
    std::lock_guard<std::mutex> lock(mu_);
    intervals.push_back({t0, t1, 1});
    return std::vector<ItemResult>(batch.size());
  }
  std::vector<Interval> intervals;

 private:
  int callers_;
  std::mutex mu_;
};

class Quiet : public SvdObserver {
 public:
  void on_item(const SvdItemRecord&) override {}
};

// The most cores held at once over all intervals.
int peak_cores(std::vector<Interval> all) {
  std::vector<std::pair<double, int>> events;
  for (const auto& i : all) {
    events.push_back({i.start, i.cores});
    events.push_back({i.end, -i.cores});
  }
  // Ends sort before starts at the same instant.
  std::sort(events.begin(), events.end(), [](auto& a, auto& b) {
    return a.first < b.first || (a.first == b.first && a.second < b.second);
  });
  int now = 0, peak = 0;
  for (const auto& e : events) peak = std::max(peak, now += e.second);
  return peak;
}

class RunnerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "tandem-runner-XXXXXX").string();
    dir_ = ::mkdtemp(tmpl.data());
  }
  void TearDown() override { fs::remove_all(dir_); }
  // A [smooth] table over `subjects`: dir_/<subject>_bold.nii → dir_/<subject>_sm.nii, FWHM 6.
  Plan smooth_plan(std::vector<std::string> subjects) const {
    Plan p;
    p.smooth.present = true;
    p.smooth.args = std::move(subjects);
    p.smooth.input = dir_ + "/{}_bold.nii";
    p.smooth.output = dir_ + "/{}_sm.nii";
    p.smooth.fwhm = "6";
    return p;
  }
  // Each job writes its start and end time (inside the process, so inside its core hold).
  Plan plan_with_jobs(int subjects, int threads_per_job, double seconds) {
    Plan p;
    p.svd.present = true;
    p.svd.random = "24x4x4";
    p.jobs.present = true;
    for (int i = 0; i < subjects; ++i) p.jobs.args.push_back("s" + std::to_string(i));
    p.jobs.threads_per_job = threads_per_job;
    p.jobs.command = {"sh", "-c",
                      "date +%s.%N > " + dir_ + "/{}.start; sleep " + std::to_string(seconds) +
                          "; date +%s.%N > " + dir_ + "/{}.end"};
    return p;
  }
  std::vector<Interval> job_intervals(int subjects, int cores) {
    std::vector<Interval> out;
    for (int i = 0; i < subjects; ++i) {
      std::ifstream s(dir_ + "/s" + std::to_string(i) + ".start"),
          e(dir_ + "/s" + std::to_string(i) + ".end");
      Interval iv{0, 0, cores};
      s >> iv.start;
      e >> iv.end;
      EXPECT_GT(iv.end, iv.start) << "job s" << i << " did not run";
      out.push_back(iv);
    }
    return out;
  }
  std::string dir_;
};

TEST_F(RunnerTest, SvdWorkersAndJobsTogetherNeverExceedTheCoreBudget) {
  auto backend = std::make_shared<RecordingBackend>(3);
  Plan plan = plan_with_jobs(6, 1, 0.15);
  RunSettings settings;
  settings.cores = 3;
  settings.svd_backend = backend;
  Quiet quiet;
  RunOutcome o = run_plan(plan, settings, quiet, nullptr);
  EXPECT_FALSE(o.any_failed());
  EXPECT_EQ(o.svd.done, 24);
  auto jobs = job_intervals(6, 1);
  std::vector<Interval> all = backend->intervals;
  all.insert(all.end(), jobs.begin(), jobs.end());
  EXPECT_LE(peak_cores(all), 3);
  // Jobs did not wait for the SVD half to finish: one started before the last matrix ended.
  double first_job = 1e300, last_svd = 0;
  for (const auto& j : jobs) first_job = std::min(first_job, j.start);
  for (const auto& s : backend->intervals) last_svd = std::max(last_svd, s.end);
  EXPECT_LT(first_job, last_svd);
}

TEST_F(RunnerTest, JobsHoldTheirThreadsPerJobCores) {
  auto backend = std::make_shared<RecordingBackend>(4);
  Plan plan = plan_with_jobs(4, 3, 0.15);
  RunSettings settings;
  settings.cores = 4;
  settings.svd_backend = backend;
  Quiet quiet;
  RunOutcome o = run_plan(plan, settings, quiet, nullptr);
  EXPECT_FALSE(o.any_failed());
  auto jobs = job_intervals(4, 3);
  std::vector<Interval> all = backend->intervals;
  all.insert(all.end(), jobs.begin(), jobs.end());
  EXPECT_LE(peak_cores(all), 4);
  // Two 3-core jobs never overlap on 4 cores.
  EXPECT_LE(peak_cores(jobs), 3);
}

TEST_F(RunnerTest, AFailingJobHalfLeavesTheSvdHalfWhole) {
  Plan plan;
  plan.svd.present = true;
  plan.svd.random = "3x5x5";
  plan.svd.output = dir_ + "/svd";
  plan.svd.device = "cpu";
  plan.jobs.present = true;
  plan.jobs.args = {"a", "b"};
  plan.jobs.command = {"sh", "-c", "exit 3"};
  RunSettings settings;
  settings.cores = 2;
  Quiet quiet;
  RunOutcome o = run_plan(plan, settings, quiet, nullptr);
  EXPECT_TRUE(o.any_failed());
  EXPECT_EQ(o.svd.done, 3);
  EXPECT_TRUE(fs::exists(dir_ + "/svd/random.npz"));
  ASSERT_EQ(o.job_runs.size(), 1u);
  for (const auto& r : o.job_runs[0].results) EXPECT_EQ(r.outcome, jobs::Outcome::kExit);
}

TEST_F(RunnerTest, AFailingSvdHalfLeavesTheJobsWhole) {
  Plan plan;
  plan.svd.present = true;
  plan.svd.inputs = {dir_ + "/missing.npy"};
  plan.svd.output = dir_ + "/svd";
  plan.svd.device = "cpu";
  plan.jobs.present = true;
  plan.jobs.args = {"a", "b"};
  plan.jobs.command = {"sh", "-c", "touch " + dir_ + "/done_{}"};
  RunSettings settings;
  settings.cores = 2;
  Quiet quiet;
  RunOutcome o = run_plan(plan, settings, quiet, nullptr);
  EXPECT_TRUE(o.any_failed());
  EXPECT_EQ(o.svd.failed, 1);
  EXPECT_TRUE(fs::exists(dir_ + "/done_a"));
  EXPECT_TRUE(fs::exists(dir_ + "/done_b"));
}

TEST_F(RunnerTest, SmoothAndJobsHalvesRunAtTheSameTime) {
  // A stand-in for `tandem smooth` that only finishes once the [jobs] job has started (and the
  // job likewise waits for it): with the halves one after the other, both would fail.
  const std::string fake = dir_ + "/fake-tandem";
  std::ofstream(fake)
      << "#!/bin/sh\nout=; prev=\nfor a in \"$@\"; do [ \"$prev\" = -o ] && out=$a; "
         "prev=$a; done\ntouch "
      << dir_ << "/smooth.started\ni=0; while [ ! -e " << dir_
      << "/jobs.started ]; do i=$((i+1)); [ $i -gt 200 ] && exit 9; sleep 0.05; "
         "done\ntouch \"$out\"\n";
  fs::permissions(fake, fs::perms::owner_all);
  Plan plan = smooth_plan({"s1"});
  plan.jobs.present = true;
  plan.jobs.args = {"s1"};
  plan.jobs.command = {"sh", "-c",
                       "touch " + dir_ + "/jobs.started; i=0; while [ ! -e " + dir_ +
                           "/smooth.started ]; do i=$((i+1)); [ $i -gt 200 ] && exit 9; "
                           "sleep 0.05; done"};
  RunSettings settings;
  settings.cores = 2;
  settings.self_exe = fake;
  Quiet quiet;
  std::vector<std::string> observed;
  RunOutcome o =
      run_plan(plan, settings, quiet, [&](const std::string& half, const jobs::MapPlan& p) {
        observed.push_back(half);
        EXPECT_EQ(p.jobs.size(), 1u) << half;  // what "[n/N]" counts to
        return nullptr;
      });
  EXPECT_FALSE(o.any_failed());
  ASSERT_EQ(o.job_runs.size(), 2u);
  EXPECT_EQ(o.job_names, (std::vector<std::string>{"smooth", "jobs"}));
  EXPECT_EQ(observed, o.job_names);
  for (const auto& run : o.job_runs) {
    for (const auto& r : run.results) EXPECT_EQ(r.outcome, jobs::Outcome::kOk) << r.message;
  }
  EXPECT_TRUE(fs::exists(dir_ + "/s1_sm.nii"));
}

TEST_F(RunnerTest, ShardRunsItsPartOfEveryHalf) {
  Plan plan;
  plan.jobs.present = true;
  plan.jobs.args = {"s0", "s1", "s2", "s3", "s4"};
  plan.jobs.command = {"sh", "-c", "touch " + dir_ + "/{}"};
  RunSettings settings;
  settings.cores = 2;
  settings.shard = Shard{2, 2};
  Quiet quiet;
  RunOutcome o = run_plan(plan, settings, quiet, nullptr);
  EXPECT_FALSE(o.any_failed());
  ASSERT_EQ(o.job_runs.size(), 1u);
  EXPECT_EQ(o.job_runs[0].results.size(), 2u);
  for (const char* s : {"s1", "s3"}) EXPECT_TRUE(fs::exists(dir_ + "/" + s)) << s;
  for (const char* s : {"s0", "s2", "s4"}) EXPECT_FALSE(fs::exists(dir_ + "/" + s)) << s;
  // Random SVD data is one stream with one output: it cannot be split, and nothing runs.
  plan.svd.present = true;
  plan.svd.random = "4x3x3";
  plan.svd.output = dir_ + "/svd";
  EXPECT_THROW(run_plan(plan, settings, quiet, nullptr), UsageError);
}

// A stand-in for `tandem smooth`: counts its runs, then writes its -o output.
std::string counting_smoother(const std::string& dir) {
  const std::string fake = dir + "/fake-tandem";
  std::ofstream(fake) << "#!/bin/sh\nout=; prev=\nfor a in \"$@\"; do [ \"$prev\" = -o ] && "
                         "out=$a; prev=$a; done\necho x >> "
                      << dir << "/runs\ntouch \"$out\"\n";
  fs::permissions(fake, fs::perms::owner_all);
  return fake;
}

int lines_of(const std::string& path) {
  std::ifstream in(path);
  int n = 0;
  for (std::string l; std::getline(in, l);) ++n;
  return n;
}

TEST_F(RunnerTest, SmoothRedoesExistingOutputsUnlessResuming) {
  Plan plan = smooth_plan({"s1", "s2"});
  RunSettings settings;
  settings.cores = 2;
  settings.self_exe = counting_smoother(dir_);
  Quiet quiet;
  EXPECT_FALSE(run_plan(plan, settings, quiet, nullptr).any_failed());
  ASSERT_EQ(lines_of(dir_ + "/runs"), 2);
  // The outputs exist, but the settings may have changed: without --resume both run again.
  RunOutcome again = run_plan(plan, settings, quiet, nullptr);
  EXPECT_FALSE(again.any_failed());
  EXPECT_EQ(lines_of(dir_ + "/runs"), 4);
  for (const auto& r : again.job_runs.at(0).results) EXPECT_EQ(r.outcome, jobs::Outcome::kOk);
  // Under --resume they are done, and the half's plan says so before it runs.
  settings.resume = true;
  std::size_t skipped = 0;
  RunOutcome resumed =
      run_plan(plan, settings, quiet, [&](const std::string&, const jobs::MapPlan& p) {
        skipped = p.skipped.size();
        return nullptr;
      });
  EXPECT_EQ(lines_of(dir_ + "/runs"), 4);
  EXPECT_EQ(skipped, 2u);
  for (const auto& r : resumed.job_runs.at(0).results) {
    EXPECT_EQ(r.outcome, jobs::Outcome::kSkipped);
    EXPECT_EQ(r.message, "outputs exist");
  }
}

TEST_F(RunnerTest, SmoothOutputOfAFailedRerunIsNotLeftLookingLikeAResult) {
  Plan plan = smooth_plan({"s1"});
  std::ofstream(dir_ + "/s1_sm.nii") << "from an earlier run";
  RunSettings settings;
  settings.cores = 1;
  settings.self_exe = "/bin/false";
  Quiet quiet;
  EXPECT_TRUE(run_plan(plan, settings, quiet, nullptr).any_failed());
  EXPECT_FALSE(fs::exists(dir_ + "/s1_sm.nii"));
}

// A stand-in for `tandem smooth` that fails as the real one does: its reason on a last
// "tandem: error:" line, after other output.
std::string failing_smoother(const std::string& dir) {
  const std::string fake = dir + "/failing-tandem";
  std::ofstream(fake) << "#!/bin/sh\necho 'tandem: error: an earlier line' >&2\n"
                         "echo 'tandem: warning: something' >&2\n"
                         "echo \"tandem: error: $2: not a NIfTI file\" >&2\nexit 1\n";
  fs::permissions(fake, fs::perms::owner_all);
  return fake;
}

// Records the messages of the finished jobs it is shown.
class FinishedMessages : public jobs::PoolObserver {
 public:
  void job_finished(const jobs::JobResult& r) override { messages.push_back(r.message); }
  std::vector<std::string> messages;
};

TEST_F(RunnerTest, FailedSmoothJobCarriesTheChildsErrorLine) {
  // Captured stderr (no results directory), then a log file per job ([smooth] results).
  for (const std::string results : {"", "/results"}) {
    Plan plan = smooth_plan({"s1"});
    if (!results.empty()) plan.smooth.results = dir_ + results;
    RunSettings settings;
    settings.cores = 1;
    settings.self_exe = failing_smoother(dir_);
    Quiet quiet;
    FinishedMessages seen;
    RunOutcome o = run_plan(plan, settings, quiet,
                            [&](const std::string&, const jobs::MapPlan&) { return &seen; });
    const std::string want = dir_ + "/s1_bold.nii: not a NIfTI file (exit 1)";
    ASSERT_EQ(seen.messages.size(), 1u) << results;
    EXPECT_EQ(seen.messages[0], want) << results;
    EXPECT_EQ(o.job_runs.at(0).results.at(0).message, want) << results;
  }
}

TEST_F(RunnerTest, FailedSmoothJobWithoutAnErrorLineKeepsItsOutcome) {
  Plan plan = smooth_plan({"s1"});
  RunSettings settings;
  settings.cores = 1;
  settings.self_exe = "/bin/false";
  Quiet quiet;
  RunOutcome o = run_plan(plan, settings, quiet, nullptr);
  EXPECT_EQ(o.job_runs.at(0).results.at(0).message, "exit 1");
}

TEST(CoresWarningTest, OnlyABudgetAboveTheUsableCoresIsWarnedOf) {
  EXPECT_EQ(cores_warning(0, 2), "");
  EXPECT_EQ(cores_warning(2, 2), "");
  EXPECT_EQ(cores_warning(16, 2),
            "--cores 16 is more than the 2 usable cores here; the jobs and SVD workers will be "
            "oversubscribed");
  EXPECT_NE(cores_warning(2, 1).find("the 1 usable core here"), std::string::npos);
}

TEST(ChildErrorTest, LastTandemErrorLineIsTheReason) {
  EXPECT_EQ(last_tandem_error(""), "");
  EXPECT_EQ(last_tandem_error("plain output\nno error here\n"), "");
  EXPECT_EQ(last_tandem_error("tandem: error: a\ntandem: error: b: c\ntandem: interrupted\n"),
            "b: c");
  EXPECT_EQ(last_tandem_error("tandem: error: no newline"), "no newline");
  EXPECT_EQ(last_tandem_error("  tandem: error: indented is someone else's\n"), "");
}

// The UsageError run_plan throws for a plan text, or "".
std::string run_error(const std::string& text, const std::string& self_exe = "/bin/true") {
  Plan plan = parse_plan_text(text, "plan.toml", {});
  RunSettings settings;
  settings.cores = 1;
  settings.self_exe = self_exe;
  Quiet quiet;
  try {
    run_plan(plan, settings, quiet, nullptr);
  } catch (const UsageError& e) {
    return e.what();
  }
  return "";
}

TEST_F(RunnerTest, PlaceholderErrorsNameThePlansLineAndKey) {
  EXPECT_EQ(
      run_error("[jobs]\nargs = [\"a\"]\n\ncommand = [\"echo\", \"{subjct}\"]\n")
          .rfind("plan.toml:4: [jobs] command: unknown placeholder {subjct} in '{subjct}'", 0),
      0u);
  EXPECT_EQ(run_error("[jobs]\nargs = [\"a\"]\ncommand = [\"true\"]\noutputs = [\"{%}.txt\"]\n"),
            "plan.toml:4: [jobs] outputs: {%} (the worker slot) is unknown before a job runs");
  const std::string smooth = "[smooth]\nargs = [\"a\"]\nfwhm = 6\ninput = \"{}.nii\"\n";
  EXPECT_EQ(run_error(smooth + "output = \"{age}.nii\"\n")
                .rfind("plan.toml:5: [smooth] output: "
                       "unknown placeholder {age}",
                       0),
            0u);
  // A TSV's columns are placeholders too; a missing subjects file names its key.
  std::ofstream(dir_ + "/p.tsv") << "participant_id\tage\nsub-01\t23\n";
  EXPECT_EQ(
      run_error("[jobs]\nsubjects = \"" + dir_ + "/p.tsv\"\ncommand = [\"echo\", \"{age}\"]\n"),
      "");
  std::string e = run_error("[jobs]\nsubjects = \"" + dir_ + "/none.tsv\"\ncommand = [\"true\"]\n");
  EXPECT_EQ(e.rfind("plan.toml:2: [jobs] subjects: ", 0), 0u) << e;
}

}  // namespace
}  // namespace tandem::run
