// SPDX-License-Identifier: Apache-2.0
#include "core/workers.h"

#include <algorithm>
#include <exception>
#include <thread>
#include <vector>

namespace tandem {

void run_workers(int workers, const std::function<void(int)>& body,
                 const std::function<void()>& on_error) {
  workers = std::max(1, workers);
  std::vector<std::exception_ptr> errors(static_cast<std::size_t>(workers));
  auto work = [&](int w) {
    try {
      body(w);
    } catch (...) {
      errors[static_cast<std::size_t>(w)] = std::current_exception();
      if (on_error) on_error();
    }
  };
  std::vector<std::thread> pool;
  for (int w = 1; w < workers; ++w) pool.emplace_back(work, w);
  work(0);
  for (auto& t : pool) t.join();
  for (auto& e : errors) {
    if (e) std::rethrow_exception(e);
  }
}

}  // namespace tandem
