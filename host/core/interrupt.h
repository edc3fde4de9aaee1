// SPDX-License-Identifier: Apache-2.0
#pragma once

namespace tandem {

/// Installs SIGINT/SIGTERM/SIGHUP handlers that only record the signal; long loops poll
/// interrupted() and wind down. Idempotent.
void install_interrupt_handlers();

/// True once one of those signals has arrived.
bool interrupted();

/// The signal number that arrived first (0 if none).
int interrupt_signal();

/// Test hook: clears the flag.
void reset_interrupted();

}  // namespace tandem
