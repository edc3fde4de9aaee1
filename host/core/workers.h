// SPDX-License-Identifier: Apache-2.0
#pragma once
// A fixed set of worker threads over one piece of work, with their exceptions carried home.

#include <functional>

namespace tandem {

/// Runs body(w) for w = 0 .. workers − 1: worker 0 on the calling thread, the others on threads
/// of their own. Waits for all of them, then rethrows the first exception (by worker) any of
/// them threw. `on_error` (may be empty) runs on a failing worker's thread as soon as its
/// exception is caught, so that it can tell the others to stop early.
void run_workers(int workers, const std::function<void(int)>& body,
                 const std::function<void()>& on_error = {});

}  // namespace tandem
