// SPDX-License-Identifier: Apache-2.0
#include "run/plan.h"

#include <gtest/gtest.h>

#include <string>

#include "core/error.h"

namespace tandem::run {
namespace {

const char* kFull = R"(
[svd]
inputs = ["data/*.npy"]
output = "results/svd"
device = "cpu"
economy = true

[jobs]
subjects = "participants.tsv"
command = ["3dBlurToFWHM", "-input", "{}.nii.gz", "-FWHM", "6"]
jobs = 3
timeout = "30m"
retries = 2
threads_per_job = 2
mem_per_job = "4G"
outputs = ["out/{}.nii.gz"]

[smooth]
args = ["sub-01", "sub-02"]
input = "data/{}_bold.nii.gz"
output = "out/{}_desc-sm6_bold.nii.gz"
fwhm = 6
results = "logs/smooth"
)";

// The UsageError's message for a plan text, or "" when it parses.
std::string error_of(const std::string& text, std::vector<std::string> overrides = {}) {
  try {
    parse_plan_text(text, "plan.toml", overrides);
  } catch (const UsageError& e) {
    return e.what();
  }
  return "";
}

TEST(PlanTest, ReadsEveryTable) {
  Plan p = parse_plan_text(kFull, "plan.toml", {});
  EXPECT_TRUE(p.svd.present);
  EXPECT_EQ(p.svd.inputs.at(0), "data/*.npy");
  EXPECT_TRUE(p.svd.economy);
  EXPECT_EQ(p.jobs.command.size(), 5u);
  EXPECT_EQ(p.jobs.jobs, 3);
  EXPECT_EQ(p.jobs.timeout, "30m");
  EXPECT_EQ(p.jobs.threads_per_job, 2);
  EXPECT_EQ(p.smooth.fwhm, "6");
  EXPECT_EQ(p.smooth.args.size(), 2u);
  EXPECT_EQ(p.smooth.results, "logs/smooth");
  EXPECT_EQ(p.smooth.device, "cpu");  // the default: the GPU is the SVD half's
}

TEST(PlanTest, ValuesOnlyRefusesOptionsThatNeedVectors) {
  const std::string svd = "[svd]\nrandom = \"2x3x3\"\nvalues_only = true\n";
  EXPECT_EQ(error_of(svd), "");
  for (const char* key : {"check", "canonical_signs"}) {
    EXPECT_NE(error_of(svd + key + " = true\n").find("values_only does not compute"),
              std::string::npos)
        << key;
  }
}

TEST(PlanTest, SmoothDeviceIsReadCheckedAndOverridable) {
  const std::string smooth = "[smooth]\nargs = [\"a\"]\ninput = \"x\"\noutput = \"y\"\nfwhm = 6\n";
  EXPECT_EQ(parse_plan_text(smooth + "device = \"gpu\"\n", "plan.toml", {}).smooth.device, "gpu");
  EXPECT_EQ(parse_plan_text(smooth, "plan.toml", {"smooth.device=auto"}).smooth.device, "auto");
  EXPECT_EQ(error_of(smooth + "device = \"tpu\"\n"),
            "plan.toml:6: [smooth] device: 'tpu' is not one of auto, cpu, gpu");
  EXPECT_NE(error_of(smooth + "device = 1\n").find("[smooth] device: expected a string"),
            std::string::npos);
  EXPECT_EQ(error_of(smooth, {"smooth.device=fpga"}),
            "--set smooth.device: 'fpga' is not one of auto, cpu, gpu");
}

TEST(PlanTest, AbsentTablesStayAbsent) {
  Plan p = parse_plan_text("[svd]\nrandom = \"4x10x10\"\n", "plan.toml", {});
  EXPECT_TRUE(p.svd.present);
  EXPECT_FALSE(p.jobs.present);
  EXPECT_FALSE(p.smooth.present);
}

TEST(PlanTest, OverridesReplacePlanValues) {
  Plan p = parse_plan_text(kFull, "plan.toml",
                           {"jobs.jobs=4", "svd.device=gpu", "jobs.outputs=a,b", "svd.check=true"});
  EXPECT_EQ(p.jobs.jobs, 4);
  EXPECT_EQ(p.svd.device, "gpu");
  EXPECT_EQ(p.jobs.outputs, (std::vector<std::string>{"a", "b"}));
  EXPECT_TRUE(p.svd.check);
}

TEST(PlanTest, UnknownKeyNamesKeyLineAndKnownKeys) {
  std::string e = error_of("[jobs]\nargs = [\"a\"]\ncommand = [\"true\"]\ntimout = \"5m\"\n");
  EXPECT_NE(e.find("plan.toml:4"), std::string::npos) << e;
  EXPECT_NE(e.find("'timout'"), std::string::npos) << e;
  EXPECT_NE(e.find("timeout"), std::string::npos) << e;
}

TEST(PlanTest, WrongTypeSaysWhatIsExpected) {
  std::string e = error_of("[jobs]\nargs = [\"a\"]\ncommand = \"true\"\n");
  EXPECT_NE(e.find("plan.toml:3"), std::string::npos) << e;
  EXPECT_NE(e.find("command: expected an array of strings"), std::string::npos) << e;
  EXPECT_NE(error_of("[svd]\nrandom = \"2x2x2\"\neconomy = \"yes\"\n").find("true or false"),
            std::string::npos);
  EXPECT_NE(error_of("[jobs]\nargs = [\"a\"]\ncommand = [\"x\"]\njobs = 2.5\n").find("an integer"),
            std::string::npos);
}

TEST(PlanTest, MissingRequiredKeysAreNamed) {
  EXPECT_NE(error_of("[jobs]\nargs = [\"a\"]\n").find("[jobs] needs 'command'"), std::string::npos);
  EXPECT_NE(error_of("[jobs]\ncommand = [\"x\"]\n").find("'subjects'"), std::string::npos);
  EXPECT_NE(error_of("[svd]\ninputs = [\"a.npy\"]\n").find("'output'"), std::string::npos);
  EXPECT_NE(error_of("[smooth]\nargs = [\"a\"]\ninput = \"x\"\n").find("'fwhm'"),
            std::string::npos);
  EXPECT_NE(error_of("").find("none of the tables"), std::string::npos);
}

TEST(PlanTest, UnknownTableAndMalformedTomlAreUsageErrors) {
  EXPECT_NE(error_of("[svdd]\nx = 1\n").find("unknown table or key 'svdd'"), std::string::npos);
  std::string e = error_of("[svd]\ninputs = [\"a\"\n");
  EXPECT_NE(e.find("plan.toml:"), std::string::npos) << e;
}

TEST(PlanTest, BadOverridesAreUsageErrors) {
  EXPECT_NE(error_of(kFull, {"jobs.jobz=4"}).find("no key 'jobz'"), std::string::npos);
  EXPECT_EQ(error_of(kFull, {"jobs.jobs=four"}),
            "--set jobs.jobs: expected an integer, not 'four'");
  EXPECT_EQ(error_of(kFull, {"jobs.command=\"true\""}),
            "--set jobs.command: expected an array of strings, not '\"true\"'");
  EXPECT_NE(error_of(kFull, {"svd.economy=yes"}).find("expected true or false"), std::string::npos);
  EXPECT_NE(error_of(kFull, {"nonsense"}).find("TABLE.KEY=VALUE"), std::string::npos);
  EXPECT_NE(error_of(kFull, {"gpu.x=1"}).find("no table 'gpu'"), std::string::npos);
}

const std::string kSmooth =
    "[smooth]\nargs = [\"sub-01\"]\ninput = \"in/{}.nii.gz\"\noutput = \"out/{}.nii.gz\"\n";
const std::string kJobs = "[jobs]\nargs = [\"a\"]\ncommand = [\"echo\", \"{}\"]\n";
const std::string kSvd = "[svd]\nrandom = \"2x3x3\"\n";

TEST(PlanTest, EveryValueIsCheckedWithFileLineAndKey) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {kSmooth + "fwhm = -3\n",
       "plan.toml:5: [smooth] fwhm: '-3' is not a non-negative number of mm"},
      {kSmooth + "fwhm = \"abc\"\n",
       "plan.toml:5: [smooth] fwhm: 'abc' is not a non-negative number of mm"},
      {kSmooth + "fwhm = 0\n",
       "plan.toml:5: [smooth] fwhm: '0' smooths nothing: it must be > 0 on some axis"},
      {kSmooth + "fwhm = \"6,6\"\n",
       "plan.toml:5: [smooth] fwhm: give one value or three (x,y,z), not '6,6'"},
      {kSmooth + "fwhm = 6\nthreads_per_job = 0\n",
       "plan.toml:6: [smooth] threads_per_job: must be at least 1, not 0"},
      {kSmooth + "fwhm = 6\nresults = \"\"\n", "plan.toml:6: [smooth] results: is empty"},
      {kJobs + "jobs = -2\n",
       "plan.toml:4: [jobs] jobs: must be at least 1, or 0 to let the core budget decide, not -2"},
      {kJobs + "threads_per_job = 0\n",
       "plan.toml:4: [jobs] threads_per_job: must be at least 1, not 0"},
      {kJobs + "retries = -1\n", "plan.toml:4: [jobs] retries: must be at least 0, not -1"},
      {kJobs + "timeout = \"soon\"\n",
       "plan.toml:4: [jobs] timeout: 'soon' is not a duration (examples: 90, 90s, 30m, 2h)"},
      {kJobs + "timeout = -5\n",
       "plan.toml:4: [jobs] timeout: '-5' is not a duration (examples: 90, 90s, 30m, 2h)"},
      {kJobs + "mem_per_job = \"lots\"\n",
       "plan.toml:4: [jobs] mem_per_job: 'lots' is not a size (examples: 512M, 4G)"},
      {kJobs + "outputs = [\"\"]\n", "plan.toml:4: [jobs] outputs: holds an empty string"},
      {kJobs + "outputs = []\n",
       "plan.toml:4: [jobs] outputs: the array is empty; leave outputs out to declare none"},
      {"[jobs]\nargs = []\ncommand = [\"echo\"]\n",
       "plan.toml:2: [jobs] args: the array is empty; give at least one subject (or a subjects "
       "file instead)"},
      {"[jobs]\nargs = [\"a\"]\ncommand = []\n",
       "plan.toml:3: [jobs] command: the array is empty; give the program and its arguments"},
      {"[jobs]\nsubjects = \"s.txt\"\nargs = [\"a\"]\ncommand = [\"echo\"]\n",
       "plan.toml:3: [jobs] args: give the subjects with either subjects (a file) or args (an "
       "array), not both"},
      {kSvd + "algorithm = \"magic\"\n",
       "plan.toml:3: [svd] algorithm: 'magic' is not one of auto, jacobi, polar, qr, gram"},
      {kSvd + "device = \"tpu\"\n",
       "plan.toml:3: [svd] device: 'tpu' is not one of auto, cpu, gpu"},
      {kSvd + "threads = -4\n",
       "plan.toml:3: [svd] threads: must be at least 1, not -4 (leave threads out to use the core "
       "budget)"},
      {kSvd + "threads = 0\n",
       "plan.toml:3: [svd] threads: must be at least 1, not 0 (leave threads out to use the core "
       "budget)"},
      {kSvd + "gpus = []\n",
       "plan.toml:3: [svd] gpus: the array is empty; leave gpus out to use every visible GPU"},
      {kSvd + "gpus = [0, 0]\n", "plan.toml:3: [svd] gpus: names device 0 twice"},
      {kSvd + "gpus = [-1]\n", "plan.toml:3: [svd] gpus: device numbers start at 0, not -1"},
      {"[svd]\nrandom = \"3x4\"\n",
       "plan.toml:2: [svd] random: '3x4' is not BxMxN (e.g. 20x1000x1000)"},
      {kSvd + "values_only = true\ncheck = true\n",
       "plan.toml:4: [svd] check: needs U and Vh, which values_only does not compute"},
  };
  for (const auto& [text, expected] : cases) EXPECT_EQ(error_of(text), expected) << text;
}

TEST(PlanTest, InputsAndRandomTogetherAreRefusedNamingBoth) {
  EXPECT_EQ(error_of("[svd]\ninputs = [\"m/*.npy\"]\nrandom = \"3x4x5\"\noutput = \"r\"\n"),
            "plan.toml:3: [svd] random: give either inputs or random, not both");
}

TEST(PlanTest, DocumentedSpecialValuesAreAccepted) {
  EXPECT_EQ(error_of(kJobs + "jobs = 0\ntimeout = 0\nretries = 0\n"), "");
  EXPECT_EQ(error_of(kJobs + "timeout = \"30m\"\nmem_per_job = \"4G\"\n"), "");
  EXPECT_EQ(error_of(kSmooth + "fwhm = \"0,0,4\"\n"), "");
  EXPECT_EQ(parse_plan_text(kSmooth + "fwhm = 6.1234567\n", "plan.toml", {}).smooth.fwhm,
            "6.1234567");
}

TEST(PlanTest, OverridesAreCheckedAsThePlanIs) {
  EXPECT_EQ(error_of(kSmooth + "fwhm = 6\n", {"smooth.fwhm=-3"}),
            "--set smooth.fwhm: '-3' is not a non-negative number of mm");
  EXPECT_EQ(error_of(kSvd, {"svd.threads=0"}),
            "--set svd.threads: must be at least 1, not 0 (leave threads out to use the core "
            "budget)");
  EXPECT_EQ(error_of(kJobs, {"jobs.args="}),
            "--set jobs.args: the array is empty; give at least one subject (or a subjects file "
            "instead)");
}

TEST(PlanTest, OverridesTakeTomlValues) {
  Plan p = parse_plan_text(kJobs + "\n" + kSvd + "output = \"x\"\n", "plan.toml",
                           {"jobs.command=[\"echo\", \"set, with a comma\", \"{}\"]",
                            "jobs.args=[\"b\", \"c\"]", "svd.output=\"r5\"", "jobs.timeout=\"30s\"",
                            "jobs.jobs=4", "svd.economy=true", "svd.gpus=[0, 1]"});
  EXPECT_EQ(p.jobs.command, (std::vector<std::string>{"echo", "set, with a comma", "{}"}));
  EXPECT_EQ(p.jobs.args, (std::vector<std::string>{"b", "c"}));
  EXPECT_EQ(p.svd.output, "r5");
  EXPECT_EQ(p.jobs.timeout, "30s");
  EXPECT_EQ(p.jobs.jobs, 4);
  EXPECT_TRUE(p.svd.economy);
  EXPECT_EQ(p.svd.gpus, (std::vector<int64_t>{0, 1}));
  EXPECT_EQ(p.where("jobs", "jobs"), "--set jobs.jobs");
}

TEST(PlanTest, OverridesKeepTheirBareForms) {
  Plan p = parse_plan_text(
      kJobs + "\n" + kSvd + "\n" + kSmooth + "fwhm = 6\n", "plan.toml",
      {"svd.output=r5", "jobs.timeout=30m", "jobs.args=b,c", "jobs.command=echo,{}", "svd.gpus=0,1",
       "smooth.fwhm=6,6,8", "jobs.results=2024", "jobs.mem_per_job=4G"});
  EXPECT_EQ(p.svd.output, "r5");
  EXPECT_EQ(p.jobs.timeout, "30m");
  EXPECT_EQ(p.jobs.args, (std::vector<std::string>{"b", "c"}));
  EXPECT_EQ(p.jobs.command, (std::vector<std::string>{"echo", "{}"}));
  EXPECT_EQ(p.svd.gpus, (std::vector<int64_t>{0, 1}));
  EXPECT_EQ(p.smooth.fwhm, "6,6,8");
  EXPECT_EQ(p.jobs.results, "2024");  // a number, but the key takes text
  // One --set is one value: a newline cannot smuggle in a second key.
  EXPECT_EQ(parse_plan_text(kSvd, "plan.toml", {"svd.output=a\nthreads = 0"}).svd.output,
            "a\nthreads = 0");
}

}  // namespace
}  // namespace tandem::run
