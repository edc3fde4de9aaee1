// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <stdexcept>
#include <string>

namespace tandem {

/// Base of every exception the library throws; cli/ turns it into one line and an exit code.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// The user asked for something impossible or malformed (exit code 2).
class UsageError : public Error {
 public:
  using Error::Error;
};

/// One input item is bad: names the file, the item inside it (may be empty) and the reason.
class InputError : public Error {
 public:
  InputError(std::string file, std::string item, std::string reason);
  const std::string& file() const { return file_; }
  const std::string& item() const { return item_; }
  const std::string& reason() const { return reason_; }

 private:
  std::string file_;
  std::string item_;
  std::string reason_;
};

/// A numerical solver failed on an item (LAPACK/cuSOLVER info != 0, non-convergence).
class SolverError : public Error {
 public:
  using Error::Error;
};

/// A CUDA device was required but none can be used; the message says why.
class NoDeviceError : public UsageError {
 public:
  using UsageError::UsageError;
};

/// A CUDA runtime call failed; the message carries call text, error name and file:line.
class CudaError : public Error {
 public:
  using Error::Error;
};

/// The run was interrupted by SIGINT/SIGTERM/SIGHUP (exit code 130).
class InterruptedError : public Error {
 public:
  InterruptedError() : Error("interrupted") {}
};

/// An operating-system call failed: "<what>: <path>: <strerror(errno)>".
[[noreturn]] void throw_system_error(const std::string& what, const std::string& path, int err);

}  // namespace tandem

/// Precondition check that throws tandem::Error (never aborts).
#define TANDEM_EXPECTS(cond, msg)                                                   \
  do {                                                                              \
    if (!(cond)) throw ::tandem::Error(std::string("precondition failed: ") + msg); \
  } while (0)
