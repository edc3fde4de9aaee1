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

std::size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] != b[j - 1])});
      diagonal = up;
    }
  }
  return row[b.size()];
}

// "; did you mean --economy?" for a mistyped long option of `sub`, or "".
std::string suggestion(const CLI::App& sub, const std::vector<std::string>& extras) {
  for (const std::string& word : extras) {
    if (word.rfind("--", 0) != 0) continue;
    const std::string name = word.substr(2, word.find('=') - 2);
    std::string best;
    std::size_t best_distance = 3;  // at most two edits away
    for (const CLI::Option* opt : sub.get_options()) {
      for (const std::string& candidate : opt->get_lnames()) {
        const std::size_t d = edit_distance(name, candidate);
        if (d < best_distance) {
          best_distance = d;
          best = candidate;
        }
      }
    }
    if (!best.empty()) return "; did you mean --" + best + "?";
  }
  return "";
}

// CLI11's parse errors as tandem's one line: "tandem: error: <what> (see tandem svd --help)".
int print_parse_error(CLI::App& app, const CLI::ParseError& e) {
  const CLI::App* sub = nullptr;
  for (const CLI::App* s : app.get_subcommands()) sub = s;
  std::string what = e.what();
  const std::vector<std::string> extras = app.remaining();
  if (!sub && !extras.empty() && extras.front().rfind('-', 0) != 0) {
    // "tandem frob": name the word and the commands rather than "A subcommand is required".
    std::string names;
    for (const CLI::App* s :
         app.get_subcommands([](CLI::App* c) { return !c->get_group().empty(); }))
      names += (names.empty() ? "" : ", ") + s->get_name();
    what = "unknown command '" + extras.front() + "'; the commands are " + names;
  }
  if (sub && dynamic_cast<const CLI::ExtrasError*>(&e)) what += suggestion(*sub, sub->remaining());
  const std::string help = sub ? "tandem " + sub->get_name() + " --help" : "tandem --help";
  return print_error(what + " (see " + help + ")", kExitUsage);
}

}  // namespace

const std::optional<std::vector<std::string>>& job_command_words() { return command_words(); }

CLI::Validator whole_number_at_least(int min) {
  return CLI::Validator(
      [min](std::string& text) -> std::string {
        const bool digits = !text.empty() && text.size() <= 9 &&
                            text.find_first_not_of("0123456789") == std::string::npos;
        if (digits && std::stoi(text) >= min) return "";
        return "must be a whole number of at least " + std::to_string(min) + " (got '" + text +
               "')";
      },
      min == 1 ? "POSITIVE" : ">=" + std::to_string(min));
}

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
    if (e.get_exit_code() == 0) return app.exit(e);  // --help, --version
    return print_parse_error(app, e);
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
