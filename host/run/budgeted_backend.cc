// SPDX-License-Identifier: Apache-2.0
#include "run/budgeted_backend.h"

namespace tandem::run {

namespace {

// Gives the core back however svd() leaves.
class CoreHold {
 public:
  CoreHold(CoreBudget& b, bool hold) : budget_(b), n_(hold ? b.acquire(1) : 0) {}
  ~CoreHold() {
    if (n_ > 0) budget_.release(n_);
  }
  CoreHold(const CoreHold&) = delete;
  CoreHold& operator=(const CoreHold&) = delete;

 private:
  CoreBudget& budget_;
  int n_;
};

}  // namespace

std::vector<ItemResult> BudgetedBackend::svd(const std::vector<SvdTask>& batch,
                                             const SvdOptions& opt) {
  CoreHold hold(budget_, inner_->traits().holds_cores);
  return inner_->svd(batch, opt);
}

void BudgetedBackend::svd_streamed(const std::vector<SvdTask>& batch, const SvdOptions& opt,
                                   const ItemDone& done) {
  CoreHold hold(budget_, inner_->traits().holds_cores);
  inner_->svd_streamed(batch, opt, done);
}

}  // namespace tandem::run
