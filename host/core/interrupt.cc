// SPDX-License-Identifier: Apache-2.0
#include "core/interrupt.h"

#include <signal.h>

#include <atomic>
#include <initializer_list>

namespace tandem {

namespace {

std::atomic<int> g_signal{0};

extern "C" void record_signal(int sig) {
  int expected = 0;
  g_signal.compare_exchange_strong(expected, sig);
}

}  // namespace

void install_interrupt_handlers() {
  struct sigaction sa {};
  sa.sa_handler = record_signal;
  sigemptyset(&sa.sa_mask);
  // No SA_RESTART: blocking waits return EINTR so their loops notice the flag promptly.
  sa.sa_flags = 0;
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) sigaction(sig, &sa, nullptr);
}

bool interrupted() { return g_signal.load(std::memory_order_relaxed) != 0; }

int interrupt_signal() { return g_signal.load(std::memory_order_relaxed); }

void reset_interrupted() { g_signal.store(0); }

}  // namespace tandem
