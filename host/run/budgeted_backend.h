// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <memory>

#include "core/core_budget.h"
#include "svd/backend.h"

namespace tandem::run {

/// A backend whose every call holds one core of the run's budget while it computes, so CPU SVD
/// workers and subject jobs together never exceed the cores. A backend whose callers hold no
/// core (GPU feeders mostly wait on the device) passes through untouched.
class BudgetedBackend : public Backend {
 public:
  BudgetedBackend(std::shared_ptr<Backend> inner, CoreBudget& budget)
      : inner_(std::move(inner)), budget_(budget) {}
  std::string name() const override { return inner_->name(); }
  BackendTraits traits() const override { return inner_->traits(); }
  std::vector<ItemResult> svd(const std::vector<SvdTask>& batch, const SvdOptions& opt) override;
  void svd_streamed(const std::vector<SvdTask>& batch, const SvdOptions& opt,
                    const ItemDone& done) override;

 private:
  std::shared_ptr<Backend> inner_;
  CoreBudget& budget_;
};

}  // namespace tandem::run
