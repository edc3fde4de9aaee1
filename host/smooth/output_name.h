// SPDX-License-Identifier: Apache-2.0
#pragma once
// What `tandem smooth -o DIR/` (and `tandem demo`) call a smoothed image.

#include <array>
#include <string>

namespace tandem {

/// "6", "6p5" or "6x6x8": the FWHM as a BIDS label value.
std::string fwhm_label(const std::array<double, 3>& fwhm_mm);

/// Output file name (no directory) for `input_path`. A BIDS-like name (key-value entities joined
/// by '_', then a suffix such as `bold`) keeps its entities and gets `desc-sm<label>` just before
/// the suffix, replacing a `desc` it had (sub-01_task-rest_desc-preproc_bold.nii.gz →
/// sub-01_task-rest_desc-sm6_bold.nii.gz); any other name gets `_desc-sm<label>` before the
/// extension (patient_01.nii.gz → patient_01_desc-sm6.nii.gz).
std::string smoothed_file_name(const std::string& input_path, const std::string& label);

}  // namespace tandem
