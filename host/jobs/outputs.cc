// SPDX-License-Identifier: Apache-2.0
#include "jobs/outputs.h"

#include <boost/filesystem.hpp>

namespace tandem::jobs {

namespace fs = boost::filesystem;

bool all_outputs_exist(const std::vector<std::string>& paths) {
  return !paths.empty() && missing_outputs(paths).empty();
}

std::vector<std::string> missing_outputs(const std::vector<std::string>& paths) {
  std::vector<std::string> missing;
  boost::system::error_code ec;
  for (const auto& p : paths) {
    if (!fs::exists(p, ec)) missing.push_back(p);
  }
  return missing;
}

std::string make_output_parents(const std::vector<std::string>& paths) {
  for (const auto& p : paths) {
    const fs::path parent = fs::path(p).parent_path();
    if (parent.empty()) continue;
    boost::system::error_code ec;
    if (fs::is_directory(parent, ec)) continue;
    fs::create_directories(parent, ec);
    if (ec) {
      return "cannot create the directory " + parent.string() + " for the output " + p + ": " +
             ec.message();
    }
  }
  return "";
}

std::vector<std::string> discard_outputs(const std::vector<std::string>& paths, bool keep) {
  std::vector<std::string> left;
  for (const auto& p : paths) {
    boost::system::error_code ec;
    if (!fs::exists(fs::symlink_status(p, ec))) continue;
    if (keep) {
      fs::path aside = p + ".failed";
      fs::remove_all(aside, ec);
      fs::rename(p, aside, ec);
    } else {
      fs::remove_all(p, ec);
    }
    if (ec) left.push_back(p);
  }
  return left;
}

}  // namespace tandem::jobs
