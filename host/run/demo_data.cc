// SPDX-License-Identifier: Apache-2.0
#include "run/demo_data.h"

#include <nifti2_io.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <random>

#include "core/atomic_file.h"
#include "core/error.h"
#include "io/nifti_image.h"
#include "smooth/gaussian_kernel.h"
#include "smooth/gzip_codec.h"
#include "smooth/separable_filter.h"
#include "smooth/smooth_job.h"

namespace tandem::run {

namespace {

namespace fs = std::filesystem;

// Everything before the voxel data: the 348-byte header and a 4-byte extender saying "no
// extensions", so vox_offset is 352 as nibabel writes it.
std::vector<std::uint8_t> new_header(const VolumeShape& shape, std::int64_t volumes,
                                     double voxel_mm, double tr_seconds) {
  const std::int64_t dims[8] = {4, shape.nx, shape.ny, shape.nz, volumes, 1, 1, 1};
  nifti_1_header* made = nifti_make_new_n1_header(dims, NIFTI_TYPE_FLOAT32);
  if (!made) throw Error("nifti_clib could not make a NIfTI-1 header");
  nifti_1_header h = *made;
  std::free(made);
  const float v = static_cast<float>(voxel_mm);
  h.pixdim[0] = 1;  // qfac
  h.pixdim[1] = h.pixdim[2] = h.pixdim[3] = v;
  h.pixdim[4] = static_cast<float>(tr_seconds);
  h.xyzt_units = NIFTI_UNITS_MM | NIFTI_UNITS_SEC;
  h.vox_offset = 352;
  std::memcpy(h.magic, "n+1", 4);
  // The grid's centre at the scanner origin, axes along x, y, z (RAS).
  const float o[3] = {-0.5f * v * static_cast<float>(shape.nx - 1),
                      -0.5f * v * static_cast<float>(shape.ny - 1),
                      -0.5f * v * static_cast<float>(shape.nz - 1)};
  h.qform_code = h.sform_code = NIFTI_XFORM_SCANNER_ANAT;
  h.quatern_b = h.quatern_c = h.quatern_d = 0;
  h.qoffset_x = o[0];
  h.qoffset_y = o[1];
  h.qoffset_z = o[2];
  float* rows[3] = {h.srow_x, h.srow_y, h.srow_z};
  for (int r = 0; r < 3; ++r) {
    for (int c = 0; c < 3; ++c) rows[r][c] = r == c ? v : 0.0f;
    rows[r][3] = o[r];
  }
  std::snprintf(h.descrip, sizeof h.descrip, "tandem demo: synthetic noise");
  std::vector<std::uint8_t> out(352, 0);
  std::memcpy(out.data(), &h, sizeof h);
  return out;
}

// One subject's series: white noise, smoothed to the study's FWHM, around the baseline. Volume t of
// subject s draws from its own seeded stream, so threads and runs agree.
std::vector<float> make_series(const StudySpec& spec, int subject, int threads) {
  const double sigma_mm = spec.fwhm_mm / fwhm_per_sigma();
  const double sigma = sigma_mm / spec.voxel_mm;
  SeparableGaussian filter(spec.shape, {sigma, sigma, sigma}, EdgeMode::kReflect);
  const std::size_t n = spec.shape.voxels();
  std::vector<float> series(n * static_cast<std::size_t>(spec.volumes));
  auto noise = [&](std::int64_t t, float* dst) -> std::size_t {
    std::seed_seq seq{spec.seed, static_cast<std::uint64_t>(subject),
                      static_cast<std::uint64_t>(t)};
    std::mt19937_64 rng(seq);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    for (std::size_t i = 0; i < n; ++i) dst[i] = normal(rng);
    return 0;
  };
  smooth_volumes(filter, spec.volumes, noise, nullptr, threads, series.data());
  const float base = static_cast<float>(spec.baseline);
  for (float& x : series) x += base;
  return series;
}

std::string participant_id(int i) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "sub-%02d", i);
  return buf;
}

}  // namespace

void write_new_nifti(const std::string& path, const VolumeShape& shape, std::int64_t volumes,
                     double voxel_mm, double tr_seconds, const float* data, int threads) {
  const std::vector<std::uint8_t> head = new_header(shape, volumes, voxel_mm, tr_seconds);
  const auto* body = reinterpret_cast<const std::uint8_t*>(data);
  const std::size_t body_size = shape.voxels() * static_cast<std::size_t>(volumes) * sizeof(float);
  AtomicFile out(path);
  if (has_gz_suffix(path)) {
    // Header and voxels as two gzip members: one .gz stream to every reader, no copy of the data.
    std::vector<std::uint8_t> zh = gzip_compress_parallel(head.data(), head.size(), 1, 1);
    std::vector<std::uint8_t> zb = gzip_compress_parallel(body, body_size, 1, threads);
    out.pwrite_all(zh.data(), zh.size(), 0);
    out.pwrite_all(zb.data(), zb.size(), zh.size());
  } else {
    out.pwrite_all(head.data(), head.size(), 0);
    out.pwrite_all(body, body_size, head.size());
  }
  out.commit();
}

Study write_synthetic_study(const std::string& dir, const StudySpec& spec, int threads) {
  TANDEM_EXPECTS(spec.subjects > 0 && spec.volumes > 0 && spec.voxel_mm > 0 && spec.fwhm_mm > 0,
                 "a study needs subjects, volumes, a voxel size and a smoothness");
  Study study;
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw Error("cannot create " + dir + ": " + ec.message());
  std::string tsv = "participant_id\n";
  for (int s = 1; s <= spec.subjects; ++s) {
    const std::string id = participant_id(s);
    const fs::path func = fs::path(dir) / id / "func";
    fs::create_directories(func, ec);
    if (ec) throw Error("cannot create " + func.string() + ": " + ec.message());
    const std::string file = (func / (id + "_task-rest_bold.nii.gz")).string();
    std::vector<float> series = make_series(spec, s, threads);
    write_new_nifti(file, spec.shape, spec.volumes, spec.voxel_mm, spec.tr_seconds, series.data(),
                    threads);
    study.participants.push_back(id);
    study.bold_files.push_back(file);
    tsv += id + "\n";
  }
  study.participants_tsv = (fs::path(dir) / "participants.tsv").string();
  write_file_atomic(study.participants_tsv, tsv);
  return study;
}

}  // namespace tandem::run
