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
            "plan.toml: [smooth] device must be \"auto\", \"cpu\" or \"gpu\", not \"tpu\"");
  EXPECT_NE(error_of(smooth + "device = 1\n").find("[smooth] device: expected a string"),
            std::string::npos);
  EXPECT_NE(error_of(smooth, {"smooth.device=fpga"}).find("not \"fpga\""), std::string::npos);
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
  EXPECT_NE(error_of(kFull, {"jobs.jobs=four"}).find("not an integer"), std::string::npos);
  EXPECT_NE(error_of(kFull, {"nonsense"}).find("TABLE.KEY=VALUE"), std::string::npos);
  EXPECT_NE(error_of(kFull, {"gpu.x=1"}).find("no table 'gpu'"), std::string::npos);
}

}  // namespace
}  // namespace tandem::run
