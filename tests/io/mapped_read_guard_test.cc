// SPDX-License-Identifier: Apache-2.0
// Inputs truncated by another program while tandem reads them through a mapping: the read fails
// with an InputError for that item, other files read on, and a SIGBUS that no guard covers still
// kills the process.
#include "io/mapped_read_guard.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <cstring>
#include <thread>
#include <vector>

#include "core/error.h"
#include "io/mapped_file.h"
#include "io/npy.h"
#include "io/npz.h"
#include "io_test_util.h"

namespace tandem::io {
namespace {

using test::make_zip;
using test::npy_bytes;
using test::npy_dict;
using test::TempDir;
using test::write_bytes;

constexpr int64_t kCount = 24, kRows = 64, kCols = 64;
constexpr uint64_t kMatrixBytes = kRows * kCols * sizeof(double);

// Values that deflate cannot shrink much, so that a deflated member is about as long as its data
// and truncating the archive cuts into the compressed stream where the test expects.
std::string noise_bytes(uint64_t n, uint64_t seed) {
  std::string out(n, '\0');
  uint64_t x = seed * 0x9e3779b97f4a7c15ull + 1;
  for (auto& c : out) {
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    c = static_cast<char>(x >> 56);
  }
  return out;
}

// A (kCount, kRows, kCols) float64 stack of finite values; byte noise would hold NaNs, which
// read back fine but cannot be compared with ==.
std::string stack_data(uint64_t seed) {
  std::string bytes = noise_bytes(kCount * kMatrixBytes, seed);
  for (uint64_t i = 0; i + 8 <= bytes.size(); i += 8) bytes[i + 7] = 0x3f;  // exponent < 2^1
  return bytes;
}

std::string stack_npy(uint64_t seed) {
  return npy_bytes(npy_dict("<f8", false, {kCount, kRows, kCols}), stack_data(seed));
}

// Shrinks the file through its own descriptor, as another program rewriting it would.
void shrink(const std::string& path, uint64_t size) {
  const int fd = ::open(path.c_str(), O_WRONLY);
  ASSERT_GE(fd, 0) << path;
  ASSERT_EQ(::ftruncate(fd, static_cast<off_t>(size)), 0) << std::strerror(errno);
  ::close(fd);
}

// Reads matrix `index`, expecting the shrank error for it.
void expect_shrank(MatrixStack& stack, int64_t index, const std::string& file) {
  std::vector<double> m(kRows * kCols);
  try {
    stack.read(index, m.data());
    FAIL() << "matrix " << index << " read from a truncated file";
  } catch (const InputError& e) {
    EXPECT_EQ(e.file(), file);
    EXPECT_EQ(e.item(), "matrix " + std::to_string(index));
    EXPECT_EQ(e.reason(), kFileShrank);
  }
}

TEST(MappedReadGuardTest, TruncatedNpyFailsTheReadPastTheNewEnd) {
  TempDir dir;
  const std::string path = dir.path("stack.npy");
  write_bytes(path, stack_npy(1));
  auto stack = open_npy(path);
  std::vector<double> m(kRows * kCols);
  stack->read(0, m.data());
  shrink(path, 128 + 5 * kMatrixBytes);
  expect_shrank(*stack, 17, path);
  // The mapping now reads zeros past the old end, so nothing more from it can be trusted.
  expect_shrank(*stack, 1, path);
}

TEST(MappedReadGuardTest, TruncatedStoredNpzMemberFails) {
  TempDir dir;
  const std::string path = dir.path("a.npz");
  write_bytes(path, make_zip({{"x.npy", stack_npy(2)}}));
  auto stack = open_npz_member(path, "x");
  shrink(path, 200 + 5 * kMatrixBytes);
  expect_shrank(*stack, 17, path + ":x");
}

TEST(MappedReadGuardTest, TruncatedDeflatedNpzMemberFails) {
  TempDir dir;
  const std::string path = dir.path("c.npz");
  write_bytes(path, make_zip({{"x.npy", stack_npy(3)}}, true));
  auto stack = open_npz_member(path, "x");
  std::vector<double> m(kRows * kCols);
  stack->read(0, m.data());
  shrink(path, 200 + 5 * kMatrixBytes);
  expect_shrank(*stack, 17, path + ":x");
  // The inflater starts again from the member's first byte, which now reads zeros too.
  expect_shrank(*stack, 0, path + ":x");
}

TEST(MappedReadGuardTest, GuardedReadOfAnEmptiedFileThrows) {
  TempDir dir;
  const std::string path = dir.path("d.npy");
  write_bytes(path, stack_npy(4));
  auto file = MappedFile::open(path);
  shrink(path, 0);
  try {
    const volatile uint8_t* first = file->data();
    file->guarded(path, "header", [&] { return *first; });
    FAIL() << "read a byte of an empty file";
  } catch (const InputError& e) {
    EXPECT_EQ(e.item(), "header");
    EXPECT_EQ(e.reason(), kFileShrank);
  }
}

TEST(MappedReadGuardTest, OtherFilesReadOnInOtherThreads) {
  TempDir dir;
  const std::string bad = dir.path("bad.npy"), good = dir.path("good.npy");
  write_bytes(bad, stack_npy(5));
  write_bytes(good, stack_npy(6));
  auto bad_stack = open_npy(bad);
  auto good_stack = open_npy(good);
  shrink(bad, 128 + kMatrixBytes);
  const std::string expected = stack_data(6);
  std::thread bad_reader([&] {
    for (int64_t i = 2; i < kCount; ++i) expect_shrank(*bad_stack, i, bad);
  });
  std::thread good_reader([&] {
    std::vector<double> m(kRows * kCols);
    for (int round = 0; round < 4; ++round) {
      for (int64_t i = 0; i < kCount; ++i) {
        good_stack->read(i, m.data());
        ASSERT_EQ(std::memcmp(m.data(), expected.data() + i * kMatrixBytes, kMatrixBytes), 0);
      }
    }
  });
  bad_reader.join();
  good_reader.join();
}

TEST(MappedReadGuardTest, ErrorsOfAnIntactFilePassThrough) {
  TempDir dir;
  const std::string path = dir.path("ok.npy");
  write_bytes(path, stack_npy(7));
  auto file = MappedFile::open(path);
  EXPECT_EQ(file->guarded(path, "", [&] { return file->data()[0]; }), 0x93);
  try {
    file->guarded(path, "m", [] { throw InputError("ok.npy", "m", "corrupt"); });
    FAIL();
  } catch (const InputError& e) {
    EXPECT_EQ(e.reason(), "corrupt");
  }
}

// The handler must not hide real bugs: a SIGBUS outside every guard still kills the process.
// Under AddressSanitizer, whose own SIGBUS handler is the one found and chained to, the process
// dies reporting "BUS" and exits 1 instead of by the signal: either way it does not go on.
#if defined(__SANITIZE_ADDRESS__)
#define EXPECT_DIES_OF_SIGBUS(statement) EXPECT_DEATH(statement, "BUS")
#else
#define EXPECT_DIES_OF_SIGBUS(statement) EXPECT_EXIT(statement, testing::KilledBySignal(SIGBUS), "")
#endif

TEST(MappedReadGuardDeathTest, UnguardedFaultStillKills) {
  TempDir dir;
  const std::string path = dir.path("u.npy");
  write_bytes(path, stack_npy(8));
  auto file = MappedFile::open(path);
  file->guarded(path, "", [&] { return file->data()[0]; });  // installs the handler
  shrink(path, 4096);
  const volatile uint8_t* last = file->data() + file->size() - 1;
  EXPECT_DIES_OF_SIGBUS((void)*last);
}

TEST(MappedReadGuardDeathTest, FaultInAnotherMappingThanTheGuardedOneStillKills) {
  TempDir dir;
  const std::string a = dir.path("a.npy"), b = dir.path("b.npy");
  write_bytes(a, stack_npy(9));
  write_bytes(b, stack_npy(10));
  auto guarded = MappedFile::open(a);
  auto other = MappedFile::open(b);
  shrink(b, 4096);
  const volatile uint8_t* last = other->data() + other->size() - 1;
  EXPECT_DIES_OF_SIGBUS(guarded->guarded(a, "", [&] { return *last; }));
}

TEST(MappedReadGuardDeathTest, SentSigbusStillKillsInsideAGuard) {
  TempDir dir;
  const std::string path = dir.path("s.npy");
  write_bytes(path, stack_npy(11));
  auto file = MappedFile::open(path);
  EXPECT_DIES_OF_SIGBUS(file->guarded(path, "", [] { ::raise(SIGBUS); }));
}

}  // namespace
}  // namespace tandem::io
