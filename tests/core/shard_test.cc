// SPDX-License-Identifier: Apache-2.0
#include "core/shard.h"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "core/error.h"

namespace tandem {
namespace {

// An environment made of `vars` only.
EnvLookup env_of(std::map<std::string, std::string> vars) {
  return [vars](const std::string& name) -> std::optional<std::string> {
    auto it = vars.find(name);
    return it == vars.end() ? std::nullopt : std::optional<std::string>(it->second);
  };
}

const EnvLookup kEmptyEnv = env_of({});

// The UsageError message of parse_shard(text, env), or "" when it parses.
std::string error_of(const std::string& text, const EnvLookup& env = kEmptyEnv) {
  try {
    parse_shard(text, env);
  } catch (const UsageError& e) {
    return e.what();
  }
  return "";
}

TEST(ShardTest, ParsesKOfN) {
  Shard s = parse_shard("2/3", kEmptyEnv);
  EXPECT_EQ(s.index, 2);
  EXPECT_EQ(s.count, 3);
  EXPECT_EQ(parse_shard("1/1", kEmptyEnv).count, 1);
  EXPECT_EQ(shard_label(parse_shard("8/8", kEmptyEnv)), "8/8");
}

TEST(ShardTest, EveryBadValueIsAUsageErrorNamingOptionAndReason) {
  const std::map<std::string, std::string> expected = {
      {"0/3", "K must be from 1 to N (3)"},
      {"4/3", "K must be from 1 to N (3)"},
      {"a/b", "must be whole numbers"},
      {"3", "is not K/N"},
      {"1/0", "N must be at least 1"},
      {"", "is not K/N"},
      {"/3", "must be whole numbers"},
      {"1/", "must be whole numbers"},
      {"-1/3", "must be whole numbers"},
      {"1/3/5", "must be whole numbers"},
      {" 1/3", "must be whole numbers"},
      {"1/99999999999", "must be whole numbers"},
      {"SLURM", "is not K/N"},
  };
  for (const auto& [text, reason] : expected) {
    std::string message = error_of(text);
    EXPECT_EQ(message.rfind("--shard: ", 0), 0u) << text << ": " << message;
    EXPECT_NE(message.find(reason), std::string::npos) << text << ": " << message;
  }
}

TEST(ShardTest, ShardsAreDisjointAndTogetherHoldEveryUnit) {
  for (int n = 1; n <= 9; ++n) {
    for (std::size_t units : {0, 1, 5, 7, 23}) {
      std::vector<int> owners(units, 0);
      for (int k = 1; k <= n; ++k) {
        for (std::size_t i = 0; i < units; ++i) owners[i] += in_shard(i, Shard{k, n}) ? 1 : 0;
      }
      for (std::size_t i = 0; i < units; ++i) {
        EXPECT_EQ(owners[i], 1) << "unit " << i << " of " << units << " in " << n << " shards";
      }
    }
  }
}

TEST(ShardTest, RoundRobinFromShardOne) {
  std::vector<std::size_t> second;
  for (std::size_t i = 0; i < 7; ++i) {
    if (in_shard(i, Shard{2, 3})) second.push_back(i);
  }
  EXPECT_EQ(second, (std::vector<std::size_t>{1, 4}));
  EXPECT_TRUE(in_shard(0, Shard{1, 3}));
  EXPECT_TRUE(in_shard(6, Shard{1, 1}));
}

TEST(ShardTest, SlurmArrayStartingAtOne) {
  Shard s = parse_shard("slurm", env_of({{"SLURM_ARRAY_TASK_ID", "3"},
                                         {"SLURM_ARRAY_TASK_MIN", "1"},
                                         {"SLURM_ARRAY_TASK_MAX", "8"},
                                         {"SLURM_ARRAY_TASK_COUNT", "8"}}));
  EXPECT_EQ(shard_label(s), "3/8");
}

TEST(ShardTest, SlurmArrayStartingAtZero) {
  Shard first = parse_shard("slurm", env_of({{"SLURM_ARRAY_TASK_ID", "0"},
                                             {"SLURM_ARRAY_TASK_MIN", "0"},
                                             {"SLURM_ARRAY_TASK_COUNT", "4"}}));
  EXPECT_EQ(shard_label(first), "1/4");
  Shard last = parse_shard("slurm", env_of({{"SLURM_ARRAY_TASK_ID", "3"},
                                            {"SLURM_ARRAY_TASK_MIN", "0"},
                                            {"SLURM_ARRAY_TASK_MAX", "3"}}));
  EXPECT_EQ(shard_label(last), "4/4");
}

TEST(ShardTest, SlurmCountFallsBackToMax) {
  Shard s = parse_shard("slurm", env_of({{"SLURM_ARRAY_TASK_ID", "12"},
                                         {"SLURM_ARRAY_TASK_MIN", "10"},
                                         {"SLURM_ARRAY_TASK_MAX", "14"}}));
  EXPECT_EQ(shard_label(s), "3/5");
}

TEST(ShardTest, SlurmMissingOrInconsistentVariablesAreUsageErrors) {
  const std::map<std::string, std::string> full = {{"SLURM_ARRAY_TASK_ID", "2"},
                                                   {"SLURM_ARRAY_TASK_MIN", "1"},
                                                   {"SLURM_ARRAY_TASK_MAX", "4"},
                                                   {"SLURM_ARRAY_TASK_COUNT", "4"}};
  auto without = [&](const std::string& name) {
    auto vars = full;
    vars.erase(name);
    return env_of(vars);
  };
  auto with = [&](const std::string& name, const std::string& value) {
    auto vars = full;
    vars[name] = value;
    return env_of(vars);
  };
  const std::vector<std::pair<EnvLookup, std::string>> cases = {
      {kEmptyEnv, "SLURM_ARRAY_TASK_ID is not set"},
      {without("SLURM_ARRAY_TASK_ID"), "SLURM_ARRAY_TASK_ID is not set"},
      {without("SLURM_ARRAY_TASK_MIN"), "SLURM_ARRAY_TASK_MIN is not set"},
      {env_of({{"SLURM_ARRAY_TASK_ID", "2"}, {"SLURM_ARRAY_TASK_MIN", "1"}}),
       "neither SLURM_ARRAY_TASK_COUNT nor SLURM_ARRAY_TASK_MAX"},
      {with("SLURM_ARRAY_TASK_ID", "x"), "SLURM_ARRAY_TASK_ID='x' is not a whole number"},
      {with("SLURM_ARRAY_TASK_COUNT", ""), "SLURM_ARRAY_TASK_COUNT='' is not a whole number"},
      {with("SLURM_ARRAY_TASK_ID", "5"), "SLURM_ARRAY_TASK_ID=5 is outside the array's range 1-4"},
      {with("SLURM_ARRAY_TASK_ID", "0"), "SLURM_ARRAY_TASK_ID=0 is outside the array's range 1-4"},
      {with("SLURM_ARRAY_TASK_COUNT", "3"), "not one contiguous range"},
      {with("SLURM_ARRAY_TASK_MAX", "0"), "SLURM_ARRAY_TASK_MAX is below SLURM_ARRAY_TASK_MIN"},
      {with("SLURM_ARRAY_TASK_COUNT", "0"), "not one contiguous range"},
  };
  for (const auto& [env, reason] : cases) {
    std::string message = error_of("slurm", env);
    EXPECT_EQ(message.rfind("--shard: slurm: ", 0), 0u) << reason << ": " << message;
    EXPECT_NE(message.find(reason), std::string::npos) << reason << ": " << message;
  }
  std::string zero = error_of("slurm", env_of({{"SLURM_ARRAY_TASK_ID", "1"},
                                               {"SLURM_ARRAY_TASK_MIN", "1"},
                                               {"SLURM_ARRAY_TASK_COUNT", "0"}}));
  EXPECT_NE(zero.find("SLURM_ARRAY_TASK_COUNT must be at least 1"), std::string::npos) << zero;
}

TEST(ShardTest, ProcessEnvironmentIsTheDefault) {
  ::setenv("SLURM_ARRAY_TASK_ID", "7", 1);
  ::setenv("SLURM_ARRAY_TASK_MIN", "5", 1);
  ::setenv("SLURM_ARRAY_TASK_COUNT", "3", 1);
  ::unsetenv("SLURM_ARRAY_TASK_MAX");
  EXPECT_EQ(shard_label(parse_shard("slurm")), "3/3");
  ::unsetenv("SLURM_ARRAY_TASK_ID");
  EXPECT_THROW(parse_shard("slurm"), UsageError);
  ::unsetenv("SLURM_ARRAY_TASK_MIN");
  ::unsetenv("SLURM_ARRAY_TASK_COUNT");
}

TEST(ShardTest, SubstitutesShardInPaths) {
  EXPECT_EQ(substitute_shard("logs/jobs-{shard}.log", Shard{2, 8}), "logs/jobs-2-of-8.log");
  EXPECT_EQ(substitute_shard("{shard}/{shard}", Shard{1, 1}), "1-of-1/1-of-1");
  EXPECT_EQ(substitute_shard("jobs.log", Shard{2, 8}), "jobs.log");
  EXPECT_EQ(substitute_shard("{shard", Shard{2, 8}), "{shard");
}

}  // namespace
}  // namespace tandem
