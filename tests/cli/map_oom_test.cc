// SPDX-License-Identifier: Apache-2.0
// A job killed by the kernel's OOM killer is reported as `oom`, not as a plain signal: run
// `tandem map` inside a memory cgroup too small for its job. Needs a writable memory cgroup
// (root on cgroup v1 or v2); skips, saying why, elsewhere.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "cli_test_util.h"

namespace tandem::testing {
namespace {

namespace fs = std::filesystem;

// This process's memory cgroup directory: v1's "memory" hierarchy, else the v2 one.
std::string own_memory_cgroup() {
  std::ifstream in("/proc/self/cgroup");
  std::string line, v2;
  while (std::getline(in, line)) {
    auto colon = line.find(':'), second = line.find(':', colon + 1);
    std::string controllers = line.substr(colon + 1, second - colon - 1);
    std::string path = line.substr(second + 1);
    if (controllers == "memory") return "/sys/fs/cgroup/memory" + path;
    if (controllers.empty()) v2 = "/sys/fs/cgroup" + path;
  }
  return v2;
}

bool write_text(const std::string& path, const std::string& text) {
  std::ofstream out(path);
  out << text;
  out.flush();
  return static_cast<bool>(out);
}

class MemoryCgroup {
 public:
  explicit MemoryCgroup(long bytes) {
    const std::string parent = own_memory_cgroup();
    if (parent.empty()) return;
    dir_ = parent + "/tandem-oom-test-" + std::to_string(::getpid());
    std::error_code ec;
    if (!fs::create_directory(dir_, ec)) {
      dir_.clear();
      return;
    }
    const std::string limit = std::to_string(bytes);
    ok_ = write_text(dir_ + "/memory.limit_in_bytes", limit) ||  // v1
          write_text(dir_ + "/memory.max", limit);               // v2
    write_text(dir_ + "/memory.swappiness", "0");
    write_text(dir_ + "/memory.swap.max", "0");
  }
  ~MemoryCgroup() {
    if (!dir_.empty()) ::rmdir(dir_.c_str());
  }
  bool ok() const { return ok_; }
  const std::string& dir() const { return dir_; }

 private:
  std::string dir_;
  bool ok_ = false;
};

TEST(MapOomTest, JobKilledByTheOomKillerIsReportedAsOom) {
  const std::string py = python_with_numpy();
  if (py.empty()) GTEST_SKIP() << "no python3 (set TANDEM_PYTHON)";
  MemoryCgroup cg(64L << 20);
  if (!cg.ok())
    GTEST_SKIP() << "needs a writable memory cgroup (root): cannot limit a job's memory here";
  ScratchDir d;
  // The shell joins the small cgroup, then becomes tandem; the job then needs 400 MB.
  const std::string cmd = "sh -c 'echo $$ > " + cg.dir() + "/cgroup.procs && exec " + tandem_bin() +
                          " map --report " + d / "r.json" + " --args a -- " + py +
                          " -c \"x = bytearray(400 << 20); print(len(x))\"'";
  RunResult r = run_command(cmd);
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("oom"), std::string::npos) << r.output;
  std::ifstream in(d / "r.json");
  std::string report((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_NE(report.find("\"outcome\": \"oom\""), std::string::npos) << report;
}

}  // namespace
}  // namespace tandem::testing
