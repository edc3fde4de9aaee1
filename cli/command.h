// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace tandem::cli {

/// Exit codes shared by every command.
inline constexpr int kExitOk = 0;
inline constexpr int kExitItemFailed = 1;
inline constexpr int kExitUsage = 2;
inline constexpr int kExitInterrupted = 130;

/// Adds a subcommand's options to `sub`; returns the function that runs it once parsed.
using CommandSetup = std::function<std::function<int()>(CLI::App& sub)>;

/// The words after the first `--` that follows a `map` subcommand, untouched and in order (the
/// job command), or nullopt when there is none. main() cuts them off before CLI11 parses, so a
/// job's own flags (`-q`, `--output x`) are never read as tandem's.
const std::optional<std::vector<std::string>>& job_command_words();

/// Checks a count option (-j, --cores) is a whole number ≥ `min`, with a message a user can act
/// on: CLI11's own PositiveNumber prints its range as a 300-digit double.
CLI::Validator whole_number_at_least(int min);

/// Registers a subcommand; `order` sorts `tandem --help`. Called from static initialisers in
/// each cmd_*.cc so that adding a command touches only its own file.
bool register_command(int order, std::string name, std::string description, CommandSetup setup);

}  // namespace tandem::cli

/// One line per command file: TANDEM_REGISTER_COMMAND(10, "svd", "Batched SVD ...", setup_fn);
#define TANDEM_REGISTER_COMMAND(order, name, description, setup) \
  static const bool tandem_command_registered_ =                 \
      ::tandem::cli::register_command(order, name, description, setup)
