# SPDX-License-Identifier: Apache-2.0
"""nilearn's smooth_img recipe with scipy, in float32: the oracle for tandem smooth's tests.

usage: nilearn_reference.py IN.nii[.gz] OUT.npy --fwhm F[,F,F] [--mask M] [--edges fsl]
                            [--compare TANDEM_OUT.nii[.gz]]
Writes the smoothed data (float32, the image's shape) to OUT.npy and prints one JSON line with
the voxel sizes, sigmas and the number of non-finite values zeroed; with --compare, also the
largest difference in float32 ulps from tandem's output, its shape and dtype.
"""
import argparse
import json

import nibabel as nib
import numpy as np
from scipy import ndimage


def smooth(arr, vox, fwhm, edges):
    sigma = fwhm / (np.sqrt(8 * np.log(2)) * vox)
    for axis, (s, sg) in enumerate(zip(vox, sigma)):
        if s == 0.0 or sg == 0.0:
            continue
        if edges == "fsl":
            ones = np.ones(arr.shape[axis], dtype=np.float64)
            norm = ndimage.gaussian_filter1d(ones, sg, mode="constant", cval=0.0)
            shape = [1] * arr.ndim
            shape[axis] = -1
            out = ndimage.gaussian_filter1d(arr.astype(np.float64), sg, axis=axis,
                                            mode="constant", cval=0.0)
            arr = (out / norm.reshape(shape)).astype(np.float32)
        else:
            ndimage.gaussian_filter1d(arr, sg, output=arr, axis=axis)
    return arr


def ulp_distance(a, b):
    """Distance in float32 units in the last place, across zero too."""
    def ordered(x):
        i = x.astype(np.float32).view(np.int32).astype(np.int64)
        return np.where(i < 0, -(i & 0x7FFFFFFF), i)
    return np.abs(ordered(a) - ordered(b))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("input")
    p.add_argument("output")
    p.add_argument("--fwhm", required=True)
    p.add_argument("--mask")
    p.add_argument("--edges", default="reflect")
    p.add_argument("--compare")
    a = p.parse_args()
    img = nib.load(a.input)
    arr = np.asanyarray(img.dataobj).astype(np.float32)
    bad = ~np.isfinite(arr)
    arr[bad] = 0
    vox = np.sqrt(np.sum(img.affine[:3, :3] ** 2, axis=0))
    fwhm = np.array([float(v) for v in a.fwhm.split(",")])
    if fwhm.size == 1:
        fwhm = np.repeat(fwhm, 3)
    if a.mask:
        m = (np.asanyarray(nib.load(a.mask).dataobj).astype(np.float32) != 0)
        m = m.reshape(m.shape[:3]).astype(np.float32)
        den = smooth(m.copy(), vox, fwhm, a.edges)
        mb = m.reshape(m.shape + (1,) * (arr.ndim - 3))
        num = smooth(arr * mb, vox, fwhm, a.edges)
        d = den.reshape(mb.shape)
        arr = np.where(mb != 0, num / np.where(d == 0, 1, d), 0).astype(np.float32)
    else:
        arr = smooth(arr, vox, fwhm, a.edges)
    np.save(a.output, arr)
    result = {"voxel_mm": vox.tolist(),
              "sigma": (fwhm / (np.sqrt(8 * np.log(2)) * vox)).tolist(),
              "nonfinite": int(bad.sum())}
    if a.compare:
        out = np.asanyarray(nib.load(a.compare).dataobj)
        result["dtype"] = str(out.dtype)
        result["shape_ok"] = out.shape == arr.shape
        if out.dtype == np.float32 and out.shape == arr.shape:
            result["max_ulp"] = int(ulp_distance(out, arr).max(initial=0))
            result["max_abs"] = float(np.abs(out - arr).max(initial=0))
            scale = float(np.abs(arr).max(initial=0)) or 1.0
            result["max_rel"] = float(np.abs(out - arr).max(initial=0)) / scale
    print(json.dumps(result))


if __name__ == "__main__":
    main()
