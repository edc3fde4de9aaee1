// SPDX-License-Identifier: Apache-2.0
// tandem's entry point: builds the subcommands, runs the chosen one, and turns library
// exceptions into one line on stderr and an exit code.
#include <algorithm>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "command.h"
#include "core/error.h"

namespace tandem::cli {

namespace {

struct Entry {
  int order;
  std::string name;
  std::string description;
  CommandSetup setup;
};

std::vector<Entry>& registry() {
  static std::vector<Entry> entries;
  return entries;
}

std::optional<std::vector<std::string>>& command_words() {
  static std::optional<std::vector<std::string>> words;
  return words;
}

// CLI11 lets `--` merely end an unlimited option (`--args a b -- CMD`) and then goes on reading
// options, so the job command of `tandem map ... -- CMD ARG...` is cut off here, before parsing:
// returns the number of arguments CLI11 gets.
int split_job_command(int argc, char** argv) {
  int sub = 1;
  while (sub < argc && argv[sub][0] == '-') ++sub;  // global flags (--help, --version)
  if (sub >= argc || std::string(argv[sub]) != "map") return argc;
  for (int i = sub + 1; i < argc; ++i) {
    if (std::string(argv[i]) != "--") continue;
    command_words() = std::vector<std::string>(argv + i + 1, argv + argc);
    return i;
  }
  return argc;
}

int print_error(const std::string& what, int code) {
  std::fprintf(stderr, "tandem: error: %s\n", what.c_str());
  return code;
}

}  // namespace

const std::optional<std::vector<std::string>>& job_command_words() { return command_words(); }

bool register_command(int order, std::string name, std::string description, CommandSetup setup) {
  registry().push_back({order, std::move(name), std::move(description), std::move(setup)});
  return true;
}

int main_impl(int argc, char** argv) {
  CLI::App app{
      "tandem: run many independent work items on every core and GPU, with each failure caught, "
      "explained and retryable.\nExit codes: 0 all ok, 1 some item failed, 2 usage error, "
      "130 interrupted; `tandem status` also 3 (still running).",
      "tandem"};
  app.set_version_flag("--version", std::string("tandem ") + TANDEM_VERSION);
  app.footer(
      "Examples:\n"
      "  tandem demo                                  toy SVD batch + small fMRI study, both at "
      "once\n"
      "  tandem svd data/*.npy -o results/            U, S, Vh per input, as np.linalg.svd\n"
      "  tandem map --subjects subjects.txt --timeout 30m -- cmd --input {}.nii.gz\n"
      "  tandem smooth bold.nii.gz --fwhm 6 -o bold_sm6.nii.gz\n"
      "  tandem run plan.toml --report run.json\n"
      "Each command has --help; README.md has the details.");
  app.require_subcommand(1);
  auto& entries = registry();
  std::sort(entries.begin(), entries.end(),
            [](const Entry& a, const Entry& b) { return a.order < b.order; });
  std::vector<std::pair<CLI::App*, std::function<int()>>> runners;
  for (auto& e : entries) {
    CLI::App* sub = app.add_subcommand(e.name, e.description);
    runners.emplace_back(sub, e.setup(*sub));
  }
  try {
    app.parse(split_job_command(argc, argv), argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? kExitOk : kExitUsage;
  }
  try {
    for (auto& [sub, run] : runners) {
      if (sub->parsed()) return run();
    }
  } catch (const InterruptedError&) {
    std::fprintf(stderr, "tandem: interrupted\n");
    return kExitInterrupted;
  } catch (const UsageError& e) {
    return print_error(e.what(), kExitUsage);
  } catch (const CLI::ParseError& e) {
    return print_error(e.what(), kExitUsage);
  } catch (const std::exception& e) {
    return print_error(e.what(), kExitItemFailed);
  }
  return kExitUsage;
}

}  // namespace tandem::cli

int main(int argc, char** argv) { return tandem::cli::main_impl(argc, argv); }
