// SPDX-License-Identifier: Apache-2.0
#include "io_test_util.h"

#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "io/zip_format.h"

namespace tandem::io::test {

namespace fs = std::filesystem;

TempDir::TempDir() {
  const char* base = std::getenv("TMPDIR");
  std::string tmpl = std::string(base && *base ? base : "/tmp") + "/tandem-io-test-XXXXXX";
  if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
  dir_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(dir_, ec);
}

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out) throw std::runtime_error("cannot write " + path);
}

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string npy_bytes(const std::string& dict, const std::string& data, int major) {
  const std::size_t prefix = major == 1 ? 10 : 12;
  std::string text = dict;
  while ((prefix + text.size() + 1) % 64 != 0) text += ' ';
  text += '\n';
  std::string out = std::string("\x93NUMPY", 6) + static_cast<char>(major) + '\0';
  for (std::size_t i = 0; i < prefix - 8; ++i)
    out += static_cast<char>((text.size() >> (8 * i)) & 0xff);
  return out + text + data;
}

std::string npy_dict(const std::string& descr, bool fortran, const std::vector<int64_t>& shape) {
  std::string s = "(";
  for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  s += shape.size() == 1 ? ",)" : ")";
  return "{'descr': '" + descr + "', 'fortran_order': " + (fortran ? "True" : "False") +
         ", 'shape': " + s + ", }";
}

std::string deflate_raw(const std::string& bytes) {
  z_stream z{};
  deflateInit2(&z, 6, Z_DEFLATED, -MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
  std::string out(deflateBound(&z, bytes.size()), '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(bytes.data()));
  z.avail_in = static_cast<uInt>(bytes.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  if (deflate(&z, Z_FINISH) != Z_STREAM_END) throw std::runtime_error("deflate failed");
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

std::string make_zip(const std::vector<std::pair<std::string, std::string>>& members,
                     bool deflate) {
  std::string out;
  std::vector<ZipEntry> entries;
  for (const auto& [name, content] : members) {
    ZipEntry e;
    e.name = name;
    e.method = deflate ? kZipDeflated : kZipStored;
    e.crc = static_cast<uint32_t>(
        crc32(0, reinterpret_cast<const Bytef*>(content.data()), content.size()));
    const std::string data = deflate ? deflate_raw(content) : content;
    e.usize = content.size();
    e.csize = data.size();
    e.local_offset = out.size();
    out += zip_local_header(e) + data;
    entries.push_back(e);
  }
  return out + zip_directory(entries, out.size());
}

std::vector<double> read_all(MatrixStack& stack) {
  const std::size_t n = static_cast<std::size_t>(stack.rows() * stack.cols());
  std::vector<double> all;
  std::vector<double> f64(n);
  std::vector<float> f32(n);
  for (int64_t i = 0; i < stack.count(); ++i) {
    if (stack.dtype() == DType::kFloat32) {
      stack.read(i, f32.data());
      all.insert(all.end(), f32.begin(), f32.end());
    } else {
      stack.read(i, f64.data());
      all.insert(all.end(), f64.begin(), f64.end());
    }
  }
  return all;
}

namespace {

bool imports_numpy(const std::string& interpreter) {
  const std::string cmd = "'" + interpreter + "' -c 'import numpy' > /dev/null 2>&1";
  return std::system(cmd.c_str()) == 0;
}

}  // namespace

std::string python() {
  static const std::string chosen = [] {
    const char* p = std::getenv("TANDEM_PYTHON");
    if (p && *p) return std::string(p);
    // Run by hand, without CTest's environment: the interpreter on PATH, else the system one
    // (where Debian's python3-numpy lives, the default tests/CMakeLists.txt names too).
    for (const char* candidate : {"python3", "/usr/bin/python3"})
      if (imports_numpy(candidate)) return std::string(candidate);
    return std::string("python3");
  }();
  return chosen;
}

int run_python(const std::string& script, const std::string& args, std::string* log) {
  TempDir tmp;
  write_bytes(tmp.path("script.py"), script);
  const std::string cmd = "'" + python() + "' '" + tmp.path("script.py") + "' " + args + " > '" +
                          tmp.path("log") + "' 2>&1";
  const int rc = std::system(cmd.c_str());
  *log = read_bytes(tmp.path("log"));
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

std::string python_numpy_problem() {
  std::string log;
  if (run_python("import numpy\n", "", &log) == 0) return {};
  return "TANDEM_PYTHON=" + python() + " cannot import numpy: " + log;
}

}  // namespace tandem::io::test
