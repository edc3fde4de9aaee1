// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <string>

#include "run/plan.h"

namespace tandem::run {

/// Checks every value of `plan` the way `tandem svd`, `tandem map` and `tandem smooth` check
/// their options (mostly with the same parsers), and that required keys are there, before
/// anything runs. Throws UsageError "plan.toml:LINE: [table] key: reason" (or "--set table.key:
/// reason" for an override). Placeholders, which need the subject list, are checked by
/// run_plan.
void check_plan(const Plan& plan);

/// `message` of a parser shared with the CLIs without the flag it names first ("--algorithm: 'x'
/// is not one of ..." becomes "'x' is not one of ..."; likewise "map: "): in a plan the user
/// wrote a key, which the caller names instead.
std::string without_flag(const std::string& message);

}  // namespace tandem::run
