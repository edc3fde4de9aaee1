// SPDX-License-Identifier: Apache-2.0
#include "smooth/output_name.h"

#include <algorithm>
#include <cctype>
#include <vector>

#include "smooth/fwhm_spec.h"

namespace tandem {

std::string fwhm_label(const std::array<double, 3>& f) {
  auto one = [](double v) {
    std::string s = format_mm(v);
    std::replace(s.begin(), s.end(), '.', 'p');
    return s;
  };
  if (f[0] == f[1] && f[1] == f[2]) return one(f[0]);
  return one(f[0]) + "x" + one(f[1]) + "x" + one(f[2]);
}

namespace {

bool is_alnum_word(const std::string& s) {
  return !s.empty() &&
         std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isalnum(c) != 0; });
}

// BIDS-like: key-value entities (both sides alphanumeric) joined by '_', then a suffix without
// '-' (sub-01_task-rest_bold). Anything else (patient_01, mni_2mm) is a plain name, where a
// desc entity in the middle would read as part of the name.
bool is_bids_like(const std::vector<std::string>& parts) {
  if (parts.size() < 2 || !is_alnum_word(parts.back())) return false;
  for (std::size_t i = 0; i + 1 < parts.size(); ++i) {
    const std::size_t dash = parts[i].find('-');
    if (dash == std::string::npos || !is_alnum_word(parts[i].substr(0, dash)) ||
        !is_alnum_word(parts[i].substr(dash + 1))) {
      return false;
    }
  }
  return true;
}

}  // namespace

std::string smoothed_file_name(const std::string& input_path, const std::string& label) {
  std::string name = input_path.substr(input_path.find_last_of('/') + 1);
  std::string ext;
  // The extension is matched in any case and kept as the input spells it (bold.NII.GZ).
  for (const char* e : {".nii.gz", ".nii"}) {
    std::string s(e);
    if (name.size() <= s.size()) continue;
    std::string tail = name.substr(name.size() - s.size());
    std::string lower = tail;
    for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (lower == s) {
      ext = tail;
      name.resize(name.size() - s.size());
      break;
    }
  }
  std::vector<std::string> parts;
  for (std::size_t start = 0;;) {
    std::size_t us = name.find('_', start);
    parts.push_back(name.substr(start, us == std::string::npos ? std::string::npos : us - start));
    if (us == std::string::npos) break;
    start = us + 1;
  }
  const std::string desc = "desc-sm" + label;
  if (!is_bids_like(parts)) return name + "_" + desc + ext;
  bool replaced = false;
  for (auto& p : parts) {
    if (p.rfind("desc-", 0) == 0) {
      p = desc;
      replaced = true;
    }
  }
  if (!replaced) parts.insert(parts.end() - 1, desc);
  std::string out;
  for (std::size_t i = 0; i < parts.size(); ++i) out += (i ? "_" : "") + parts[i];
  return out + ext;
}

}  // namespace tandem
