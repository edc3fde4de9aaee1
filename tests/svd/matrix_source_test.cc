// SPDX-License-Identifier: Apache-2.0
#include "svd/matrix_source.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <vector>

#include "core/atomic_file.h"
#include "core/error.h"
#include "io/npz.h"

namespace tandem {
namespace {

namespace fs = std::filesystem;

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "tandem-src-XXXXXX").string();
    path_ = ::mkdtemp(tmpl.data());
  }
  ~TempDir() { fs::remove_all(path_); }
  std::string operator/(const std::string& name) const { return (fs::path(path_) / name).string(); }
  const std::string& str() const { return path_; }

 private:
  std::string path_;
};

void write_matrix(const std::string& path, int64_t m, int64_t n) {
  std::vector<double> a(m * n, 1.0);
  io::write_npy(path, DType::kFloat64, {m, n}, a.data());
}

TEST(RandomSpecTest, ParsesShapeTypeAndSeed) {
  RandomSpec s = parse_random_spec("20x1000x30:float32:seed=5");
  EXPECT_EQ(s.count, 20);
  EXPECT_EQ(s.rows, 1000);
  EXPECT_EQ(s.cols, 30);
  EXPECT_EQ(s.dtype, DType::kFloat32);
  EXPECT_EQ(s.seed, 5u);
  EXPECT_EQ(parse_random_spec("1x2x3").dtype, DType::kFloat64);
}

TEST(RandomSpecTest, RejectsMalformedSpecs) {
  for (const char* bad :
       {"20x1000", "0x3x3", "ax3x3", "2x3x3:float16", "2x3x3:seed=-1", "2x3x-3"}) {
    EXPECT_THROW(parse_random_spec(bad), UsageError) << bad;
  }
}

TEST(RandomSourceTest, SameSeedGivesSameUniformData) {
  RandomSpec spec = parse_random_spec("3x4x5:seed=9");
  auto a = random_source(spec, "").open();
  auto b = random_source(spec, "").open();
  std::vector<double> x(20), y(20);
  a->read(2, x.data());
  b->read(2, y.data());
  EXPECT_EQ(x, y);
  for (double v : x) {
    EXPECT_GE(v, 0.0);
    EXPECT_LT(v, 1.0);
  }
  a->read(1, y.data());
  EXPECT_NE(x, y);
}

TEST(ExpandInputsTest, DirectoryGivesSortedMatrixFilesAndOutputNames) {
  TempDir d;
  write_matrix(d / "b.npy", 2, 2);
  write_matrix(d / "a.npy", 2, 2);
  std::vector<SvdSource> s = expand_inputs({d.str()}, "out");
  ASSERT_EQ(s.size(), 2u);
  EXPECT_EQ(fs::path(s[0].path).filename(), "a.npy");
  EXPECT_EQ(s[0].output, "out/a.npz");
  EXPECT_EQ(s[1].output, "out/b.npz");
}

TEST(ExpandInputsTest, NpzGivesOneSourcePerMemberInASubdirectory) {
  TempDir d;
  std::vector<double> a(4, 1.0);
  io::write_npz(d / "set.npz", {{"x", DType::kFloat64, {2, 2}}, {"y", DType::kFloat64, {2, 2}}},
                {a.data(), a.data()});
  std::vector<SvdSource> s = expand_inputs({d / "set.npz"}, "out");
  ASSERT_EQ(s.size(), 2u);
  EXPECT_EQ(s[0].member, "x");
  EXPECT_EQ(s[0].output, "out/set/x.npz");
  EXPECT_EQ(s[1].label, d / "set.npz" + ":y");
}

TEST(ExpandInputsTest, QuotedGlobExpands) {
  TempDir d;
  write_matrix(d / "s1.npy", 2, 2);
  write_matrix(d / "s2.npy", 2, 2);
  write_matrix(d / "t.npy", 2, 2);
  EXPECT_EQ(expand_inputs({d / "s*.npy"}, "out").size(), 2u);
  EXPECT_THROW(expand_inputs({d / "z*.npy"}, "out"), UsageError);
}

TEST(ExpandInputsTest, MissingFileBecomesAFailingSource) {
  std::vector<SvdSource> s = expand_inputs({"/nonexistent/m.npy"}, "out");
  ASSERT_EQ(s.size(), 1u);
  EXPECT_THROW(s[0].open(), InputError);
}

TEST(ExpandInputsTest, CorruptArchiveIsAFailingSourceNotAnAbort) {
  TempDir d;
  write_file_atomic(d / "bad.npz", "PK\x03\x04 this is not a zip archive");
  std::vector<SvdSource> s = expand_inputs({d / "bad.npz"}, "out");
  ASSERT_EQ(s.size(), 1u);
  EXPECT_FALSE(s[0].error.empty());
  EXPECT_THROW(s[0].open(), InputError);
}

TEST(ExpandInputsTest, ArchiveWithNoArraysIsAFailingSource) {
  TempDir d;
  io::write_npz(d / "nothing.npz", {}, {});
  std::vector<SvdSource> s = expand_inputs({d / "nothing.npz"}, "out");
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s[0].error, "the archive holds no arrays");
  EXPECT_THROW(s[0].open(), InputError);
}

TEST(ExpandInputsTest, TwoInputsWritingOneOutputIsAUsageError) {
  TempDir d;
  fs::create_directories(d / "x");
  fs::create_directories(d / "y");
  write_matrix(d / "x/m.npy", 2, 2);
  write_matrix(d / "y/m.npy", 2, 2);
  EXPECT_THROW(expand_inputs({d / "x/m.npy", d / "y/m.npy"}, "out"), UsageError);
}

TEST(ExpandInputsTest, OutputOverwritingAnInputIsAUsageError) {
  TempDir d;
  write_matrix(d / "sub01.npy", 2, 2);
  std::vector<double> a(4, 1.0);
  io::write_npz(d / "sub01.npz", {{"run1", DType::kFloat64, {2, 2}}}, {a.data()});
  try {
    expand_inputs({d.str()}, d.str());
    FAIL() << "sub01.npy's output is the input sub01.npz";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("would overwrite the input"), std::string::npos)
        << e.what();
  }
}

TEST(ExpandInputsTest, OneFileNamedTwiceIsOneInput) {
  TempDir d;
  write_matrix(d / "a.npy", 2, 2);
  const std::string dotted = (fs::path(d.str()) / "." / "a.npy").string();
  std::vector<SvdSource> s = expand_inputs({d / "a.npy", dotted, d / "*.npy"}, "out");
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s[0].output, "out/a.npz");
}

TEST(ExpandInputsTest, ArchiveMemberNamesStayInsideTheOutputFolder) {
  TempDir d;
  std::vector<double> a(4, 1.0);
  io::write_npz(d / "w.npz",
                {{"../../escaped", DType::kFloat64, {2, 2}},
                 {"a/b", DType::kFloat64, {2, 2}},
                 {".hidden", DType::kFloat64, {2, 2}}},
                {a.data(), a.data(), a.data()});
  std::vector<SvdSource> s = expand_inputs({d / "w.npz"}, "out");
  ASSERT_EQ(s.size(), 3u);
  for (const SvdSource& src : s) {
    EXPECT_EQ(fs::path(src.output).parent_path(), fs::path("out/w")) << src.output;
    EXPECT_NE(fs::path(src.output).filename().string()[0], '.') << src.output;
  }
  EXPECT_EQ(s[0].output, "out/w/_.._.._escaped.npz");
  EXPECT_EQ(s[1].output, "out/w/a_b.npz");
  EXPECT_EQ(s[0].member, "../../escaped");  // read under its own name
}

// a.npy, set.npz (members x and y), c.npy and a missing d.npy: four input files.
std::vector<SvdSource> four_files(const TempDir& d) {
  write_matrix(d / "a.npy", 2, 2);
  write_matrix(d / "c.npy", 2, 2);
  std::vector<double> m(4, 1.0);
  io::write_npz(d / "set.npz", {{"x", DType::kFloat64, {2, 2}}, {"y", DType::kFloat64, {2, 2}}},
                {m.data(), m.data()});
  return expand_inputs({d / "a.npy", d / "set.npz", d / "c.npy", d / "d.npy"}, "out");
}

std::vector<std::string> labels(const std::vector<SvdSource>& sources) {
  std::vector<std::string> out;
  for (const auto& s : sources) out.push_back(fs::path(s.label).filename().string());
  return out;
}

TEST(SelectShardTest, EachInputFileWithAllItsMembersIsOneUnit) {
  TempDir d;
  ShardSelection first = select_shard(four_files(d), Shard{1, 2});
  EXPECT_EQ(labels(first.sources), (std::vector<std::string>{"a.npy", "c.npy"}));
  EXPECT_EQ(first.files, 2u);
  EXPECT_EQ(first.total_files, 4u);
  ShardSelection second = select_shard(four_files(d), Shard{2, 2});
  EXPECT_EQ(labels(second.sources), (std::vector<std::string>{"set.npz:x", "set.npz:y", "d.npy"}));
  EXPECT_EQ(second.files, 2u);
  ShardSelection last = select_shard(four_files(d), Shard{4, 4});
  EXPECT_EQ(labels(last.sources), std::vector<std::string>{"d.npy"});
  EXPECT_EQ(select_shard(four_files(d), Shard{1, 1}).sources.size(), 5u);
  EXPECT_TRUE(select_shard(four_files(d), Shard{5, 6}).sources.empty());
}

TEST(SelectShardTest, RandomDataIsAUsageError) {
  std::vector<SvdSource> sources = {random_source(parse_random_spec("4x3x3"), "")};
  try {
    select_shard(sources, Shard{1, 2});
    FAIL() << "expected a usage error";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("--shard: --random"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace tandem
