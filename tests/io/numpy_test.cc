// SPDX-License-Identifier: Apache-2.0
// Cross-checks with real numpy (TANDEM_PYTHON): files numpy writes are read back exactly, and
// files tandem writes load in numpy with identical values, bytes and CRCs.
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <numeric>

#include "io/npz.h"
#include "io/zip_format.h"
#include "io_test_util.h"

namespace tandem::io {
namespace {

using test::TempDir;

#define SKIP_WITHOUT_NUMPY()                                                     \
  do {                                                                           \
    const std::string problem = test::python_numpy_problem();                    \
    if (!problem.empty()) GTEST_SKIP() << "numpy is not available: " << problem; \
  } while (0)

const char* const kNumpyWrites = R"(
import sys, zipfile
import numpy as np
d = sys.argv[1]
rng = np.random.default_rng(7)
arrays = {
    'big_f8': rng.standard_normal((3, 4)).astype('>f8'),
    'fortran_f8': np.asfortranarray(rng.standard_normal((5, 3))),
    'fortran_stack': np.asfortranarray(rng.standard_normal((4, 3, 2))),
    'i16': rng.integers(-30000, 30000, (4, 6)).astype(np.int16),
    'big_i32': rng.integers(-2**31, 2**31 - 1, (3, 3)).astype('>i4'),
    'u64': rng.integers(0, 2**63, (2, 5), dtype=np.uint64),
    'bools': rng.integers(0, 2, (3, 5)).astype(bool),
    'f16': rng.standard_normal((4, 4)).astype(np.float16),
    'f32': rng.standard_normal((6, 2)).astype(np.float32),
    'big_f32_fortran': np.asfortranarray(rng.standard_normal((3, 5)).astype('>f4')),
    'stack': rng.standard_normal((5, 3, 4)),
    'empty': np.zeros((0, 4)),
}
for name, a in arrays.items():
    np.save(f'{d}/{name}.npy', a)
    np.ascontiguousarray(a, dtype='<f4' if a.dtype.kind == 'f' and a.dtype.itemsize == 4 else '<f8').tofile(f'{d}/{name}.expected')
np.savez(f'{d}/plain.npz', **arrays)
np.savez_compressed(f'{d}/packed.npz', **arrays)
for v in [(2, 0), (3, 0)]:
    with open(f'{d}/v{v[0]}.npy', 'wb') as f:
        np.lib.format.write_array(f, arrays['stack'], version=v)

class Unseekable:  # zipfile writes data descriptors (flag bit 3) to a stream it cannot seek
    def __init__(self, f): self.f = f
    def write(self, b): return self.f.write(b)
    def flush(self): self.f.flush()
with open(f'{d}/descriptor.npz', 'wb') as raw:
    with zipfile.ZipFile(Unseekable(raw), 'w', compression=zipfile.ZIP_DEFLATED) as z:
        for name in ['stack', 'big_f8']:
            with z.open(name + '.npy', 'w') as m:
                np.lib.format.write_array(m, arrays[name])
with zipfile.ZipFile(f'{d}/zip64.npz', 'w') as z:
    for name in ['stack', 'f32']:
        with z.open(name + '.npy', 'w', force_zip64=True) as m:
            np.lib.format.write_array(m, arrays[name])
)";

const std::vector<std::string> kNames = {
    "big_f8", "fortran_f8", "fortran_stack",   "i16",   "big_i32", "u64", "bools",
    "f16",    "f32",        "big_f32_fortran", "stack", "empty"};

std::vector<double> expected(const std::string& path, bool f32) {
  const std::string raw = test::read_bytes(path);
  std::vector<double> out;
  for (std::size_t i = 0; i < raw.size(); i += f32 ? 4 : 8) {
    if (f32) {
      float f;
      std::memcpy(&f, raw.data() + i, 4);
      out.push_back(f);
    } else {
      double v;
      std::memcpy(&v, raw.data() + i, 8);
      out.push_back(v);
    }
  }
  return out;
}

void expect_same(MatrixStack& s, const std::string& expected_path) {
  const bool f32 = s.dtype() == DType::kFloat32;
  const std::vector<double> want = expected(expected_path, f32);
  const std::vector<double> got = test::read_all(s);
  ASSERT_EQ(got.size(), want.size()) << s.where();
  for (std::size_t i = 0; i < got.size(); ++i)
    ASSERT_EQ(got[i], want[i]) << s.where() << " element " << i;
}

TEST(NumpyCrossTest, ReadsWhatNumpyWrites) {
  SKIP_WITHOUT_NUMPY();
  TempDir tmp;
  std::string log;
  ASSERT_EQ(test::run_python(kNumpyWrites, "'" + tmp.dir() + "'", &log), 0) << log;
  for (const auto& name : kNames) {
    SCOPED_TRACE(name);
    const std::string want = tmp.path(name + ".expected");
    expect_same(*open_npy(tmp.path(name + ".npy")), want);
    expect_same(*open_npz_member(tmp.path("plain.npz"), name), want);
    expect_same(*open_npz_member(tmp.path("packed.npz"), name), want);
  }
  EXPECT_EQ(npz_members(tmp.path("packed.npz")), kNames);
  EXPECT_EQ(open_npy(tmp.path("big_f8.npy"))->stored_descr(), ">f8");
  EXPECT_EQ(open_npy(tmp.path("f32.npy"))->dtype(), DType::kFloat32);
  EXPECT_EQ(open_npy(tmp.path("big_f32_fortran.npy"))->dtype(), DType::kFloat32);
  EXPECT_EQ(open_npy(tmp.path("bools.npy"))->stored_descr(), "|b1");
  EXPECT_EQ(open_npy(tmp.path("stack.npy"))->count(), 5);
  EXPECT_EQ(open_npy(tmp.path("empty.npy"))->rows(), 0);
  EXPECT_TRUE(npz_is_complete(tmp.path("packed.npz"), kNames));
  EXPECT_TRUE(npz_is_complete(tmp.path("plain.npz"), kNames));
  for (const char* v : {"v2.npy", "v3.npy"})
    expect_same(*open_npy(tmp.path(v)), tmp.path("stack.expected"));
  ZipArchive desc(tmp.path("descriptor.npz"));
  EXPECT_TRUE(desc.entries().at(0).flags & 8) << "python did not write a data descriptor";
  expect_same(*open_npz_member(tmp.path("descriptor.npz"), "stack"), tmp.path("stack.expected"));
  expect_same(*open_npz_member(tmp.path("descriptor.npz"), "big_f8"), tmp.path("big_f8.expected"));
  expect_same(*open_npz_member(tmp.path("zip64.npz"), "stack"), tmp.path("stack.expected"));
  expect_same(*open_npz_member(tmp.path("zip64.npz"), "f32"), tmp.path("f32.expected"));
}

const char* const kNumpyReads = R"(
import io, sys, zipfile
import numpy as np
d = sys.argv[1]
failures = []
for line in open(f'{d}/manifest'):
    path, member, dtype, shape = line.split()
    shape = tuple(int(x) for x in shape.split(',') if x)
    want = np.fromfile(f'{d}/{path}.{member}.raw', dtype=dtype).reshape(shape)
    if path.endswith('.npz'):
        with zipfile.ZipFile(f'{d}/{path}') as z:
            if z.testzip() is not None:
                failures.append(f'{path}: bad CRC in {z.testzip()}')
        with np.load(f'{d}/{path}') as z:
            got = z[member]
    else:
        got = np.load(f'{d}/{path}')
        buf = io.BytesIO()
        np.save(buf, got)
        if buf.getvalue() != open(f'{d}/{path}', 'rb').read():
            failures.append(f'{path}: bytes differ from np.save')
    if got.dtype != np.dtype(dtype) or got.shape != shape or not np.array_equal(got, want):
        failures.append(f'{path}:{member}: got {got.dtype} {got.shape}, want {dtype} {shape}')
for path in ['stored.npz', 'deflated.npz', 'writer.npz', 'zip64.npz']:
    with np.load(f'{d}/{path}') as z:
        print(path, z.files)
print('\n'.join(failures) or 'all ok')
sys.exit(1 if failures else 0)
)";

struct Written {
  std::string file, member;
  DType dtype;
  std::vector<int64_t> shape;
  std::vector<double> f64;
  std::vector<float> f32;
  const void* data() const {
    return dtype == DType::kFloat32 ? static_cast<const void*>(f32.data()) : f64.data();
  }
  std::size_t bytes() const { return dtype == DType::kFloat32 ? f32.size() * 4 : f64.size() * 8; }
};

Written array(std::string file, std::string member, DType dtype, std::vector<int64_t> shape) {
  Written w{std::move(file), std::move(member), dtype, std::move(shape), {}, {}};
  const int64_t n =
      std::accumulate(w.shape.begin(), w.shape.end(), int64_t{1}, std::multiplies<>());
  for (int64_t i = 0; i < n; ++i) {
    const double v = (i % 97) * 0.375 - 11 + i * 1e-3;
    w.f64.push_back(v);
    w.f32.push_back(static_cast<float>(v));
  }
  return w;
}

TEST(NumpyCrossTest, NumpyLoadsWhatTandemWrites) {
  SKIP_WITHOUT_NUMPY();
  TempDir tmp;
  std::vector<Written> all = {
      array("f8.npy", "-", DType::kFloat64, {3, 4}),
      array("f4stack.npy", "-", DType::kFloat32, {2, 3, 4}),
      array("empty.npy", "-", DType::kFloat64, {0, 5}),
      array("wide.npy", "-", DType::kFloat64, {1, 123456}),
  };
  for (const auto& w : all) write_npy(tmp.path(w.file), w.dtype, w.shape, w.data());
  for (const char* file : {"stored.npz", "deflated.npz"}) {
    std::vector<Written> members = {array(file, "U", DType::kFloat64, {3, 3, 3}),
                                    array(file, "S", DType::kFloat64, {3, 3}),
                                    array(file, "Vh", DType::kFloat32, {2, 2})};
    std::vector<NpzArraySpec> specs;
    std::vector<const void*> data;
    for (const auto& m : members) {
      specs.push_back({m.member, m.dtype, m.shape});
      data.push_back(m.data());
      all.push_back(m);
    }
    write_npz(tmp.path(file), specs, data, std::string(file) == "deflated.npz");
  }
  for (const char* file : {"writer.npz", "zip64.npz"}) {
    const bool z64 = std::string(file) == "zip64.npz";
    const uint64_t saved = detail::zip64_threshold();
    if (z64) detail::zip64_threshold() = 100;
    const Written u = array(file, "U", DType::kFloat64, {4, 5, 5}),
                  s = array(file, "S", DType::kFloat32, {4, 5});
    const Written failed = array(file, "failed", DType::kFloat64, {2});
    NpzWriter w(tmp.path(file), {{"U", u.dtype, u.shape}, {"S", s.dtype, s.shape}});
    for (int64_t i = 3; i >= 0; --i) {  // last matrix first
      w.write(0, i * 200, u.f64.data() + i * 25, 200);
      w.write(1, i * 20, s.f32.data() + i * 5, 20);
    }
    w.add_array({"failed", failed.dtype, failed.shape}, failed.data());
    w.commit();
    detail::zip64_threshold() = saved;
    all.insert(all.end(), {u, s, failed});
  }
  std::ofstream manifest(tmp.path("manifest"));
  for (const auto& w : all) {
    std::string shape;
    for (int64_t d : w.shape) shape += std::to_string(d) + ",";
    manifest << w.file << " " << w.member << " " << dtype_descr(w.dtype) << " " << shape << "\n";
    test::write_bytes(tmp.path(w.file + "." + w.member + ".raw"),
                      std::string(static_cast<const char*>(w.data()), w.bytes()));
  }
  manifest.close();
  std::string log;
  EXPECT_EQ(test::run_python(kNumpyReads, "'" + tmp.dir() + "'", &log), 0) << log;
  EXPECT_NE(log.find("all ok"), std::string::npos) << log;
  EXPECT_NE(log.find("writer.npz ['U', 'S', 'failed']"), std::string::npos) << log;
}

}  // namespace
}  // namespace tandem::io
