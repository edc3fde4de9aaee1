// SPDX-License-Identifier: Apache-2.0
#include "svd/scheduler.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "core/error.h"
#include "io/npz.h"
#include "svd/cpu_backend.h"

namespace tandem {
namespace {

namespace fs = std::filesystem;

// Writes S[0] = a[0] (the matrix's first entry) and fails every matrix whose first entry is
// negative; records how many tasks were in flight at once.
class FakeBackend : public Backend {
 public:
  explicit FakeBackend(int callers, int64_t batch_bytes = 0)
      : callers_(callers), batch_(batch_bytes) {}
  std::string name() const override { return "fake"; }
  BackendTraits traits() const override { return {callers_, batch_, true}; }
  std::vector<ItemResult> svd(const std::vector<SvdTask>& batch, const SvdOptions&) override {
    int now = ++in_flight_;
    int prev = max_in_flight_.load();
    while (now > prev && !max_in_flight_.compare_exchange_weak(prev, now)) {
    }
    max_batch_ = std::max<int>(max_batch_, static_cast<int>(batch.size()));
    {
      std::lock_guard<std::mutex> lock(mu_);
      sizes_.push_back(static_cast<int>(batch.size()));
    }
    std::vector<ItemResult> out;
    for (const SvdTask& t : batch) {
      double first = static_cast<const double*>(t.a)[0];
      std::fill_n(static_cast<double*>(t.s), t.shape.k(), first);
      ItemResult r;
      if (first < 0) {
        r.status = ItemStatus::kFailed;
        r.message = "negative";
      }
      out.push_back(r);
    }
    --in_flight_;
    return out;
  }
  int max_in_flight() const { return max_in_flight_; }
  int max_batch() const { return max_batch_; }
  std::vector<int> batch_sizes() {
    std::lock_guard<std::mutex> lock(mu_);
    return sizes_;
  }

 private:
  int callers_;
  int64_t batch_;
  std::atomic<int> in_flight_{0}, max_in_flight_{0};
  std::atomic<int> max_batch_{0};
  std::mutex mu_;
  std::vector<int> sizes_;
};

class Recorder : public SvdObserver {
 public:
  void on_item(const SvdItemRecord& r) override {
    std::lock_guard<std::mutex> lock(mu_);
    records.push_back(r);
  }
  void on_output(const SvdSource&, const std::string& path, bool complete) override {
    std::lock_guard<std::mutex> lock(mu_);
    outputs.emplace_back(path, complete);
  }
  std::vector<SvdItemRecord> records;
  std::vector<std::pair<std::string, bool>> outputs;
  std::mutex mu_;
};

class SchedulerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "tandem-sched-XXXXXX").string();
    dir_ = ::mkdtemp(tmpl.data());
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string path(const std::string& name) const { return (fs::path(dir_) / name).string(); }
  // A (count, 3, 2) stack whose matrix i starts with first[i].
  void write_stack(const std::string& name, const std::vector<double>& first) {
    std::vector<double> a(first.size() * 6, 0.5);
    for (std::size_t i = 0; i < first.size(); ++i) a[i * 6] = first[i];
    io::write_npy(path(name), DType::kFloat64, {static_cast<int64_t>(first.size()), 3, 2},
                  a.data());
  }
  // Row `matrix` of the stacked S, a (count, k) array.
  std::vector<double> read_s(const std::string& file, int64_t matrix) {
    auto s = io::open_npz_member(file, "S");
    std::vector<double> all(s->rows() * s->cols());
    s->read(0, all.data());
    return {all.begin() + matrix * s->cols(), all.begin() + (matrix + 1) * s->cols()};
  }
  std::string dir_;
};

TEST_F(SchedulerTest, EveryMatrixLandsAtItsIndexInTheStackedOutput) {
  write_stack("a.npy", {1, 2, 3, 4, 5, 6, 7});
  auto sources = expand_inputs({path("a.npy")}, path("out"));
  FakeBackend fake(3);
  Recorder rec;
  SvdRunStats st = run_svd_pipeline(sources, fake, {}, rec);
  EXPECT_EQ(st.done, 7);
  EXPECT_EQ(st.failed, 0);
  ASSERT_TRUE(io::npz_is_complete(path("out/a.npz"), {"U", "S", "Vh"}));
  for (int64_t i = 0; i < 7; ++i) EXPECT_EQ(read_s(path("out/a.npz"), i).at(0), i + 1.0);
  EXPECT_EQ(rec.records.size(), 7u);
}

TEST_F(SchedulerTest, FailedMatrixIsolatedAndOutputNeverGetsItsFinalName) {
  write_stack("a.npy", {1, -2, 3});
  write_stack("b.npy", {4, 5});
  auto sources = expand_inputs({path("a.npy"), path("b.npy")}, path("out"));
  FakeBackend fake(2);
  Recorder rec;
  SvdRunStats st = run_svd_pipeline(sources, fake, {}, rec);
  EXPECT_EQ(st.done, 4);
  EXPECT_EQ(st.failed, 1);
  EXPECT_FALSE(fs::exists(path("out/a.npz")));
  ASSERT_TRUE(fs::exists(path("out/a.incomplete.npz")));
  EXPECT_EQ(read_s(path("out/a.incomplete.npz"), 0).at(0), 1.0);
  EXPECT_TRUE(std::isnan(read_s(path("out/a.incomplete.npz"), 1).at(0)));
  EXPECT_EQ(read_s(path("out/a.incomplete.npz"), 2).at(0), 3.0);
  EXPECT_TRUE(io::npz_is_complete(path("out/b.npz"), {"U", "S", "Vh"}));
}

TEST_F(SchedulerTest, UnreadableInputFailsAloneAndOthersFinish) {
  write_stack("good.npy", {1, 2});
  std::vector<SvdSource> sources =
      expand_inputs({path("missing.npy"), path("good.npy")}, path("out"));
  FakeBackend fake(2);
  Recorder rec;
  SvdRunStats st = run_svd_pipeline(sources, fake, {}, rec);
  EXPECT_EQ(st.failed, 1);
  EXPECT_EQ(st.done, 2);
  EXPECT_TRUE(fs::exists(path("out/good.npz")));
  bool named = false;
  for (const auto& r : rec.records) {
    named = named || (r.index == -1 && r.source->label == path("missing.npy") &&
                      r.result.status == ItemStatus::kFailed);
  }
  EXPECT_TRUE(named);
}

TEST_F(SchedulerTest, ResumeSkipsCompleteOutputsOnly) {
  write_stack("a.npy", {1, 2});
  write_stack("b.npy", {3, 4});
  auto sources = expand_inputs({path("a.npy"), path("b.npy")}, path("out"));
  FakeBackend fake(1);
  Recorder first;
  run_svd_pipeline(sources, fake, {}, first);
  fs::remove(path("out/b.npz"));
  SvdRunOptions opt;
  opt.resume = true;
  Recorder second;
  SvdRunStats st = run_svd_pipeline(sources, fake, opt, second);
  EXPECT_EQ(st.skipped, 2);
  EXPECT_EQ(st.done, 2);
  EXPECT_TRUE(fs::exists(path("out/b.npz")));
}

TEST_F(SchedulerTest, MatrixLargerThanTheMemoryFailsUpFrontAndOthersFinish) {
  std::vector<double> big(40 * 30, 0.5);
  io::write_npy(path("big.npy"), DType::kFloat64, {40, 30}, big.data());
  write_stack("small.npy", {1, 2});
  auto sources = expand_inputs({path("big.npy"), path("small.npy")}, path("out"));
  FakeBackend fake(2);
  Recorder rec;
  SvdRunOptions opt;
  opt.memory_bytes = 4096;  // 2×(3×2) stacks fit; 40×30 with U (40×40) and Vh does not
  SvdRunStats st = run_svd_pipeline(sources, fake, opt, rec);
  EXPECT_EQ(st.failed, 1);
  EXPECT_EQ(st.done, 2);
  EXPECT_FALSE(fs::exists(path("out/big.npz")));
  EXPECT_TRUE(io::npz_is_complete(path("out/small.npz"), {"U", "S", "Vh"}));
  bool named = false;
  for (const auto& r : rec.records) {
    if (r.result.status == ItemStatus::kFailed) {
      named = r.result.message.find("40×30 float64") != std::string::npos &&
              r.result.message.find("memory available") != std::string::npos;
    }
  }
  EXPECT_TRUE(named);
}

TEST_F(SchedulerTest, EmptyStackGetsEmptyOutputsAsNumpyReturnsThem) {
  io::write_npy(path("e.npy"), DType::kFloat64, {0, 3, 2}, nullptr);
  auto sources = expand_inputs({path("e.npy")}, path("out"));
  FakeBackend fake(1);
  Recorder rec;
  SvdRunStats st = run_svd_pipeline(sources, fake, {}, rec);
  EXPECT_EQ(st.failed, 0);
  EXPECT_TRUE(io::npz_is_complete(path("out/e.npz"),
                                  {{"U", DType::kFloat64, {0, 3, 3}},
                                   {"S", DType::kFloat64, {0, 2}},
                                   {"Vh", DType::kFloat64, {0, 2, 2}}},
                                  true));
}

TEST_F(SchedulerTest, ResumeRedoesOutputsMadeWithOtherOptions) {
  write_stack("a.npy", {1, 2});
  auto sources = expand_inputs({path("a.npy")}, path("out"));
  FakeBackend fake(1);
  SvdRunOptions economy;
  economy.svd.full_matrices = false;
  Recorder first;
  run_svd_pipeline(sources, fake, economy, first);
  SvdRunOptions full;
  full.resume = true;
  Recorder again;
  SvdRunStats st = run_svd_pipeline(sources, fake, full, again);
  EXPECT_EQ(st.skipped, 0);  // an economy U is not the full U asked for now
  EXPECT_EQ(st.done, 2);
  Recorder third;
  st = run_svd_pipeline(sources, fake, full, third);
  EXPECT_EQ(st.skipped, 2);
}

TEST_F(SchedulerTest, BatchingBackendGetsSameShapeBatchesWithinItsByteLimit) {
  write_stack("a.npy", std::vector<double>(40, 1.0));
  auto sources = expand_inputs({path("a.npy")}, path("out"));
  // One item is 3×2 A + 3×3 U + 2 S + 2×2 Vh = 21 doubles = 168 bytes; allow 4 per batch.
  FakeBackend fake(1, 4 * 168);
  Recorder rec;
  SvdRunStats st = run_svd_pipeline(sources, fake, {}, rec);
  EXPECT_EQ(st.done, 40);
  EXPECT_LE(fake.max_batch(), 4);
}

TEST_F(SchedulerTest, BatchingBackendGetsFullBatchesNotWhateverHappensToBeRead) {
  // A feeder that takes the first matrix read as a batch of one leaves a GPU's streams idle.
  write_stack("a.npy", std::vector<double>(40, 1.0));
  write_stack("b.npy", std::vector<double>(6, 2.0));
  auto sources = expand_inputs({path("a.npy"), path("b.npy")}, path("out"));
  FakeBackend fake(1, 8 * 168);
  SvdRunOptions opt;
  opt.max_gather_seconds = 600;  // only the byte limit and the budget end a batch here
  Recorder rec;
  SvdRunStats st = run_svd_pipeline(sources, fake, opt, rec);
  EXPECT_EQ(st.done, 46);
  // a: five batches of 8; b (another source, same shape) joins no batch of a's only because
  // a's last batch was already full; its 6 come as one.
  EXPECT_EQ(fake.batch_sizes(), (std::vector<int>{8, 8, 8, 8, 8, 6}));
}

TEST_F(SchedulerTest, SeveralCallersShareARunThatFitsOneBatch) {
  // Two GPUs: 12 matrices that fit one batch still go to both, six each.
  write_stack("a.npy", std::vector<double>(12, 1.0));
  auto sources = expand_inputs({path("a.npy")}, path("out"));
  FakeBackend fake(2, 100 * 168);
  SvdRunOptions opt;
  opt.max_gather_seconds = 600;
  Recorder rec;
  SvdRunStats st = run_svd_pipeline(sources, fake, opt, rec);
  EXPECT_EQ(st.done, 12);
  EXPECT_EQ(fake.batch_sizes(), (std::vector<int>{6, 6}));
}

// Holds no core (like a GPU feeder) and reports each task from its own thread, last task
// first; throws after reporting `throw_after` tasks when that is ≥ 0.
class StreamingBackend : public Backend {
 public:
  explicit StreamingBackend(int throw_after = -1) : throw_after_(throw_after) {}
  std::string name() const override { return "streaming"; }
  BackendTraits traits() const override { return {1, int64_t(1) << 20, false}; }
  std::vector<ItemResult> svd(const std::vector<SvdTask>&, const SvdOptions&) override {
    ADD_FAILURE() << "the pipeline should call svd_streamed";
    return {};
  }
  void svd_streamed(const std::vector<SvdTask>& batch, const SvdOptions&,
                    const ItemDone& done) override {
    ++calls_;
    int reported = 0;
    for (std::size_t t = batch.size(); t-- > 0;) {
      if (reported == throw_after_) throw Error("device lost");
      const SvdTask& task = batch[t];
      std::thread([&] {
        const double first = static_cast<const double*>(task.a)[0];
        std::fill_n(static_cast<double*>(task.s), task.shape.k(), first);
        done(t, ItemResult{});
      }).join();
      ++reported;
    }
  }
  int calls() const { return calls_; }

 private:
  int throw_after_;
  std::atomic<int> calls_{0};
};

TEST_F(SchedulerTest, ResultsReportedOutOfOrderFromOtherThreadsLandAtTheirIndex) {
  write_stack("a.npy", {1, 2, 3, 4, 5, 6, 7, 8, 9});
  auto sources = expand_inputs({path("a.npy")}, path("out"));
  StreamingBackend backend;
  SvdRunOptions opt;
  opt.max_gather_seconds = 600;
  Recorder rec;
  SvdRunStats st = run_svd_pipeline(sources, backend, opt, rec);
  EXPECT_EQ(backend.calls(), 1);
  EXPECT_EQ(st.done, 9);
  ASSERT_TRUE(io::npz_is_complete(path("out/a.npz"), {"U", "S", "Vh"}));
  for (int64_t i = 0; i < 9; ++i) EXPECT_EQ(read_s(path("out/a.npz"), i).at(0), i + 1.0);
}

TEST_F(SchedulerTest, BackendThatThrowsMidBatchKeepsWhatItReportedAndFailsTheRest) {
  write_stack("a.npy", {1, 2, 3, 4, 5});
  auto sources = expand_inputs({path("a.npy")}, path("out"));
  StreamingBackend backend(/*throw_after=*/2);  // reports matrices 4 and 3, then throws
  SvdRunOptions opt;
  opt.max_gather_seconds = 600;
  Recorder rec;
  SvdRunStats st = run_svd_pipeline(sources, backend, opt, rec);
  EXPECT_EQ(st.done, 2);
  EXPECT_EQ(st.failed, 3);
  EXPECT_FALSE(fs::exists(path("out/a.npz")));
  ASSERT_TRUE(fs::exists(path("out/a.incomplete.npz")));
  EXPECT_EQ(read_s(path("out/a.incomplete.npz"), 3).at(0), 4.0);
  EXPECT_EQ(read_s(path("out/a.incomplete.npz"), 4).at(0), 5.0);
  EXPECT_TRUE(std::isnan(read_s(path("out/a.incomplete.npz"), 0).at(0)));
  int named = 0;
  for (const auto& r : rec.records) {
    named += r.result.status == ItemStatus::kFailed && r.result.message == "device lost";
  }
  EXPECT_EQ(named, 3);
}

TEST_F(SchedulerTest, CallersNeverExceedTheBackendsLimit) {
  RandomSpec spec{64, 3, 3, DType::kFloat64, 1};
  std::vector<SvdSource> sources = {random_source(spec, "")};
  FakeBackend fake(2);
  Recorder rec;
  SvdRunStats st = run_svd_pipeline(sources, fake, {}, rec);
  EXPECT_EQ(st.done, 64);
  EXPECT_LE(fake.max_in_flight(), 2);
}

TEST_F(SchedulerTest, RealCpuBackendEndToEnd) {
  RandomSpec spec{5, 6, 4, DType::kFloat32, 3};
  std::vector<SvdSource> sources = {random_source(spec, path("out"))};
  CpuBackend cpu(2);
  Recorder rec;
  SvdRunOptions opt;
  opt.svd.check = true;
  SvdRunStats st = run_svd_pipeline(sources, cpu, opt, rec);
  EXPECT_EQ(st.done, 5);
  for (const auto& r : rec.records) {
    ASSERT_TRUE(r.result.has_check);
    EXPECT_LT(r.result.check.residual_ratio, 35.0);
  }
  auto u = io::open_npz_member(path("out/random.npz"), "U");
  EXPECT_EQ(u->count(), 5);
  EXPECT_EQ(u->rows(), 6);
  EXPECT_EQ(u->cols(), 6);
  EXPECT_EQ(u->dtype(), DType::kFloat32);
}

TEST_F(SchedulerTest, ResumeWithCanonicalSignsRedoesAnOutputWrittenWithout) {
  RandomSpec spec{5, 6, 4, DType::kFloat64, 3};
  std::vector<SvdSource> sources = {random_source(spec, path("out"))};
  CpuBackend cpu(2);
  Recorder first;
  run_svd_pipeline(sources, cpu, {}, first);
  SvdRunOptions canonical;
  canonical.resume = true;
  canonical.svd.canonical_signs = true;
  Recorder second;
  EXPECT_EQ(run_svd_pipeline(sources, cpu, canonical, second).done, 5);
  Recorder third;
  EXPECT_EQ(run_svd_pipeline(sources, cpu, canonical, third).skipped, 5);
}

}  // namespace
}  // namespace tandem
