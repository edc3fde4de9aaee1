// SPDX-License-Identifier: Apache-2.0
#include "core/atomic_file.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/error.h"

namespace tandem {
namespace {

namespace fs = std::filesystem;

std::string make_dir() {
  std::string tmpl = (fs::temp_directory_path() / "tandem-atomic-XXXXXX").string();
  return ::mkdtemp(tmpl.data());
}

std::string slurp(const std::string& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::size_t entries(const std::string& dir) {
  return static_cast<std::size_t>(
      std::distance(fs::directory_iterator(dir), fs::directory_iterator()));
}

TEST(AtomicFileTest, FinalNameAppearsOnlyAtCommit) {
  std::string dir = make_dir();
  {
    AtomicFile f(dir + "/out.bin");
    f.pwrite_all("hello", 5, 0);
    EXPECT_FALSE(fs::exists(dir + "/out.bin"));
    f.commit();
  }
  EXPECT_EQ(slurp(dir + "/out.bin"), "hello");
  EXPECT_EQ(entries(dir), 1u);
  fs::remove_all(dir);
}

TEST(AtomicFileTest, UncommittedFileLeavesNothingBehind) {
  std::string dir = make_dir();
  {
    AtomicFile f(dir + "/out.bin");
    f.pwrite_all("partial", 7, 0);
  }
  EXPECT_EQ(entries(dir), 0u);
  fs::remove_all(dir);
}

TEST(AtomicFileTest, CommitReplacesAnOldFileWhole) {
  std::string dir = make_dir();
  write_file_atomic(dir + "/r.json", "old contents that are longer");
  write_file_atomic(dir + "/r.json", "new");
  EXPECT_EQ(slurp(dir + "/r.json"), "new");
  fs::remove_all(dir);
}

TEST(AtomicFileTest, UnwritableDirectoryNamesThePath) {
  try {
    AtomicFile f("/nonexistent-dir/x.npz");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent-dir/x.npz"), std::string::npos);
  }
}

TEST(AtomicFileTest, StaleTemporariesOfDeadWritersAreRemoved) {
  std::string dir = make_dir();
  // pid 999999999 cannot exist (above pid_max), so its temporary is stale.
  std::ofstream(dir + "/.x.npz.tmp-999999999-0") << "junk";
  AtomicFile live(dir + "/y.npz");
  remove_stale_temporaries(dir);
  EXPECT_FALSE(fs::exists(dir + "/.x.npz.tmp-999999999-0"));
  EXPECT_TRUE(fs::exists(live.temp_path()));
  live.discard();
  fs::remove_all(dir);
}

// Another machine's shard writes into the same directory: its process ID means nothing here, so
// only the temporaries of this run's own outputs may go.
TEST(AtomicFileTest, StaleTemporariesOfNamedOutputsOnlyAreRemoved) {
  std::string dir = make_dir();
  fs::create_directories(dir + "/sub");
  std::ofstream(dir + "/.mine.npz.tmp-999999999-0") << "junk";
  std::ofstream(dir + "/sub/.member.npz.tmp-999999999-3") << "junk";
  std::ofstream(dir + "/.other.npz.tmp-999999999-1") << "another machine's";
  remove_stale_temporaries_of({dir + "/mine.npz", dir + "/sub/member.npz"});
  EXPECT_FALSE(fs::exists(dir + "/.mine.npz.tmp-999999999-0"));
  EXPECT_FALSE(fs::exists(dir + "/sub/.member.npz.tmp-999999999-3"));
  EXPECT_TRUE(fs::exists(dir + "/.other.npz.tmp-999999999-1"));
  fs::remove_all(dir);
}

}  // namespace
}  // namespace tandem
