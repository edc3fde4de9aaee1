// SPDX-License-Identifier: Apache-2.0
#include "svd/matrix_source.h"

#include <glob.h>
#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <map>

#include "core/error.h"
#include "io/npz.h"

namespace tandem {

namespace fs = std::filesystem;

namespace {

// splitmix64: spreads a (seed, matrix index) pair into a well-mixed 64-bit state.
uint64_t splitmix64(uint64_t& x) {
  uint64_t z = (x += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

// xoshiro256+ (Blackman and Vigna): a few cycles per number where std::mt19937_64 and
// uniform_real_distribution cost several times more, which showed as a tenth of the run
// time of a 20×1000×1000 batch on two cores. Its top 53 bits are what a double needs.
class Xoshiro256Plus {
 public:
  explicit Xoshiro256Plus(uint64_t seed) {
    for (uint64_t& w : s_) w = splitmix64(seed);
  }
  uint64_t next() {
    const uint64_t result = s_[0] + s_[3];
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = (s_[3] << 45) | (s_[3] >> 19);
    return result;
  }

 private:
  uint64_t s_[4];
};

// Uniform [0,1) matrices, each drawn from its own seeded generator so that any matrix can be
// made on its own and the same spec always gives the same data.
class RandomStack : public io::MatrixStack {
 public:
  explicit RandomStack(const RandomSpec& s) : spec_(s), descr_(dtype_descr(s.dtype)) {}
  int64_t count() const override { return spec_.count; }
  int64_t rows() const override { return spec_.rows; }
  int64_t cols() const override { return spec_.cols; }
  int ndim() const override { return 3; }
  DType dtype() const override { return spec_.dtype; }
  const std::string& stored_descr() const override { return descr_; }
  const std::string& where() const override { return where_; }
  void read(int64_t index, void* dst) override {
    uint64_t key = spec_.seed * 0x9E3779B97F4A7C15ULL ^ static_cast<uint64_t>(index);
    Xoshiro256Plus gen(splitmix64(key));
    const int64_t n = spec_.rows * spec_.cols;
    if (spec_.dtype == DType::kFloat64) {
      constexpr double kScale = 1.0 / 9007199254740992.0;  // 2^-53: 53 random bits -> [0,1)
      double* p = static_cast<double*>(dst);
      for (int64_t i = 0; i < n; ++i) p[i] = static_cast<double>(gen.next() >> 11) * kScale;
    } else {
      constexpr float kScale = 1.0f / 16777216.0f;  // 2^-24
      float* p = static_cast<float*>(dst);
      for (int64_t i = 0; i < n; ++i) p[i] = static_cast<float>(gen.next() >> 40) * kScale;
    }
  }

 private:
  RandomSpec spec_;
  std::string descr_;
  std::string where_ = "random";
};

int64_t parse_positive(const std::string& text, const std::string& what) {
  std::size_t used = 0;
  long long v = 0;
  try {
    v = std::stoll(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != text.size() || v <= 0) {
    throw UsageError("--random: " + what + " '" + text + "' is not a positive integer");
  }
  return v;
}

bool has_glob_chars(const std::string& s) { return s.find_first_of("*?[") != std::string::npos; }

std::vector<std::string> glob_paths(const std::string& pattern) {
  glob_t g{};
  std::vector<std::string> out;
  if (::glob(pattern.c_str(), 0, nullptr, &g) == 0) {
    for (std::size_t i = 0; i < g.gl_pathc; ++i) out.emplace_back(g.gl_pathv[i]);
  }
  globfree(&g);
  // glob() orders by the locale's collation; byte order is the same on every machine, so every
  // task of a job array (--shard) lists the inputs alike, as a directory's files are listed.
  std::sort(out.begin(), out.end());
  return out;
}

// An archive member's name as one file name inside the archive's output folder: np.savez takes
// any key, and one such as "../x" or "a/b" must not place an output outside -o.
std::string member_file_stem(const std::string& member) {
  std::string name = member;
  std::replace(name.begin(), name.end(), '/', '_');
  std::replace(name.begin(), name.end(), '\\', '_');
  if (name.empty() || name[0] == '.') name.insert(0, "_");
  return name;
}

// The same file however it is named ("a.npy", "./a.npy", a link to it), for spotting an input
// given twice and an output that would overwrite an input.
std::string file_identity(const std::string& path) {
  std::error_code ec;
  fs::path p = fs::weakly_canonical(fs::absolute(path, ec), ec);
  return ec ? path : p.string();
}

bool is_matrix_file(const fs::path& p) {
  return p.extension() == ".npy" || p.extension() == ".npz";
}

// Adds the sources of one file: one for an .npy, one per member for an .npz.
void add_file(const std::string& path, const std::string& outdir, std::vector<SvdSource>& out) {
  fs::path p(path);
  const std::string stem = p.stem().string();
  if (p.extension() != ".npz") {
    SvdSource s;
    s.label = path;
    s.path = path;
    s.output = outdir.empty() ? "" : (fs::path(outdir) / (stem + ".npz")).string();
    out.push_back(std::move(s));
    return;
  }
  std::vector<std::string> members;
  try {
    members = io::npz_members(path);
  } catch (const InputError& e) {
    SvdSource s;
    s.label = path;
    s.path = path;
    s.error = e.reason();
    out.push_back(std::move(s));
    return;
  }
  if (members.empty()) {  // np.savez() with no arrays: say so rather than skip it unseen
    SvdSource s;
    s.label = path;
    s.path = path;
    s.error = "the archive holds no arrays";
    out.push_back(std::move(s));
    return;
  }
  for (const std::string& m : members) {
    SvdSource s;
    s.label = path + ":" + m;
    s.path = path;
    s.member = m;
    s.output =
        outdir.empty() ? "" : (fs::path(outdir) / stem / (member_file_stem(m) + ".npz")).string();
    out.push_back(std::move(s));
  }
}

}  // namespace

RandomSpec parse_random_spec(const std::string& text) {
  RandomSpec spec;
  std::vector<std::string> parts;
  std::size_t start = 0;
  while (true) {
    std::size_t colon = text.find(':', start);
    parts.push_back(text.substr(start, colon - start));
    if (colon == std::string::npos) break;
    start = colon + 1;
  }
  const std::string& dims = parts[0];
  std::size_t x1 = dims.find('x'), x2 = dims.find('x', x1 == std::string::npos ? x1 : x1 + 1);
  if (x1 == std::string::npos || x2 == std::string::npos) {
    throw UsageError("--random: '" + text + "' is not BxMxN (e.g. 20x1000x1000)");
  }
  spec.count = parse_positive(dims.substr(0, x1), "batch size");
  spec.rows = parse_positive(dims.substr(x1 + 1, x2 - x1 - 1), "rows");
  spec.cols = parse_positive(dims.substr(x2 + 1), "columns");
  for (std::size_t i = 1; i < parts.size(); ++i) {
    const std::string& p = parts[i];
    if (p == "float32" || p == "f32") {
      spec.dtype = DType::kFloat32;
    } else if (p == "float64" || p == "f64") {
      spec.dtype = DType::kFloat64;
    } else if (p.rfind("seed=", 0) == 0) {
      const std::string digits = p.substr(5);
      if (digits.empty() || digits.find_first_not_of("0123456789") != std::string::npos) {
        throw UsageError("--random: seed '" + digits + "' is not a non-negative integer");
      }
      spec.seed = std::stoull(digits);
    } else {
      throw UsageError("--random: unknown part '" + p + "' (expected float32, float64 or seed=S)");
    }
  }
  return spec;
}

std::unique_ptr<io::MatrixStack> SvdSource::open() const {
  if (!error.empty()) throw InputError(path, member, error);
  if (is_random) return std::make_unique<RandomStack>(random);
  return member.empty() ? io::open_npy(path) : io::open_npz_member(path, member);
}

SvdSource random_source(const RandomSpec& spec, const std::string& outdir) {
  SvdSource s;
  s.label = "random";
  s.is_random = true;
  s.random = spec;
  s.output = outdir.empty() ? "" : (fs::path(outdir) / "random.npz").string();
  return s;
}

ShardSelection select_shard(std::vector<SvdSource> sources, const Shard& shard) {
  ShardSelection out;
  std::string file;
  for (SvdSource& s : sources) {
    if (s.is_random) {
      throw UsageError(
          "--shard: --random matrices are one stream with one output, not input "
          "files; give --shard with .npy/.npz inputs only");
    }
    // expand_inputs keeps an archive's members together and rejects a file given twice (both
    // would write the same outputs), so a new path starts the next input file.
    if (out.total_files == 0 || file != s.path) {
      file = s.path;
      ++out.total_files;
      if (in_shard(out.total_files - 1, shard)) ++out.files;
    }
    if (in_shard(out.total_files - 1, shard)) out.sources.push_back(std::move(s));
  }
  return out;
}

std::vector<SvdSource> expand_inputs(const std::vector<std::string>& inputs,
                                     const std::string& outdir) {
  std::vector<SvdSource> out;
  // A file named twice (overlapping globs, "a.npy ./a.npy") is one input.
  std::map<std::string, std::string> input_files;  // identity → path as given
  auto add_once = [&](const std::string& f) {
    if (input_files.emplace(file_identity(f), f).second) add_file(f, outdir, out);
  };
  for (const std::string& in : inputs) {
    std::error_code ec;
    if (fs::is_directory(in, ec)) {
      std::vector<std::string> files;
      for (const auto& e : fs::directory_iterator(in, ec)) {
        if (e.is_regular_file(ec) && is_matrix_file(e.path())) files.push_back(e.path().string());
      }
      std::sort(files.begin(), files.end());
      if (files.empty()) throw UsageError(in + ": directory holds no .npy or .npz file");
      for (const auto& f : files) add_once(f);
    } else if (!fs::exists(in, ec) && has_glob_chars(in)) {
      std::vector<std::string> files = glob_paths(in);
      if (files.empty()) throw UsageError(in + ": no file matches this pattern");
      for (const auto& f : files) add_once(f);
    } else {
      add_once(in);
    }
  }
  std::map<std::string, std::string> seen;
  for (const SvdSource& s : out) {
    if (s.output.empty()) continue;
    auto input = input_files.find(file_identity(s.output));
    if (input != input_files.end()) {
      throw UsageError(s.output + " (the output for " + s.label + ") would overwrite the input " +
                       input->second + "; give -o a directory that holds no inputs");
    }
    auto [it, fresh] = seen.emplace(s.output, s.label);
    if (!fresh) {
      throw UsageError("inputs " + it->second + " and " + s.label + " would both write " +
                       s.output + "; rename one or run them into different -o directories");
    }
  }
  return out;
}

}  // namespace tandem
