# SPDX-License-Identifier: Apache-2.0
"""Writes synthetic NIfTI images for tandem smooth's tests.

usage: make_image.py OUT.nii[.gz] --shape X,Y,Z[,T...] [--dtype int16] [--voxel 2,3,4]
       [--origin X,Y,Z]
       [--slope S --inter I] [--big-endian] [--nifti2] [--qform-only] [--no-xform]
       [--nan N] [--inf N] [--impulse] [--constant V] [--seed S] [--header-fields]
Values are uniform noise (integers for integer dtypes) unless --impulse (1 at the centre) or
--constant (V everywhere).
--header-fields sets intent, dim_info, slice and time fields to non-default values.
"""
import argparse

import nibabel as nib
import numpy as np


def main():
    p = argparse.ArgumentParser()
    p.add_argument("output")
    p.add_argument("--shape", required=True)
    p.add_argument("--dtype", default="float32")
    p.add_argument("--voxel", default="3,3,3")
    p.add_argument("--origin", default="-10,20,-30", help="the affine's translation in mm")
    p.add_argument("--slope", type=float)
    p.add_argument("--inter", type=float, default=0.0)
    p.add_argument("--big-endian", action="store_true")
    p.add_argument("--nifti2", action="store_true")
    p.add_argument("--qform-only", action="store_true")
    p.add_argument("--no-xform", action="store_true")
    p.add_argument("--nan", type=int, default=0)
    p.add_argument("--inf", type=int, default=0)
    p.add_argument("--impulse", action="store_true")
    p.add_argument("--constant", type=float)
    p.add_argument("--mask-of", help="write a binary mask: a ball inside this shape's grid")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--header-fields", action="store_true")
    a = p.parse_args()
    shape = tuple(int(v) for v in a.shape.split(","))
    vox = [float(v) for v in a.voxel.split(",")]
    rng = np.random.default_rng(a.seed)
    dtype = np.dtype(a.dtype)
    if a.impulse:
        data = np.zeros(shape, dtype=dtype)
        data[tuple(s // 2 for s in shape)] = 1
    elif a.constant is not None:
        data = np.full(shape, a.constant, dtype=dtype)
    elif a.mask_of:
        idx = np.indices(shape[:3])
        c = [(s - 1) / 2 for s in shape[:3]]
        r2 = sum(((i - ci) / (s / 2.5)) ** 2 for i, ci, s in zip(idx, c, shape[:3]))
        data = (r2 < 1).astype(dtype)
    elif dtype.kind in "iu":
        info = np.iinfo(dtype)
        lo, hi = max(info.min, -3000), min(info.max, 3000)
        data = rng.integers(lo, hi, size=shape, endpoint=True).astype(dtype)
    else:
        data = (rng.standard_normal(shape) * 100 + 1000).astype(dtype)
    flat = data.reshape(-1)
    picks = rng.choice(flat.size, a.nan + a.inf, replace=False)
    if a.nan:
        flat[picks[:a.nan]] = np.nan
    if a.inf:
        flat[picks[a.nan:]] = np.inf * np.where(np.arange(a.inf) % 2 == 0, 1, -1)
    if a.big_endian:
        data = data.astype(dtype.newbyteorder(">"))
    affine = np.diag(vox + [1.0])
    affine[:3, 3] = [float(v) for v in a.origin.split(",")]
    cls = nib.Nifti2Image if a.nifti2 else nib.Nifti1Image
    img = cls(data, affine, dtype=data.dtype)
    h = img.header
    h.set_data_dtype(data.dtype)
    if a.qform_only:
        img.set_sform(None, code=0)
        img.set_qform(affine, code=1)
    if a.no_xform:
        img.set_sform(None, code=0)
        img.set_qform(None, code=0)
    if a.header_fields:
        h.set_intent("t test", (12.0,), name="tstat")
        h.set_dim_info(freq=0, phase=1, slice=2)
        h.set_xyzt_units("mm", "sec")
        h["slice_code"] = 1
        h["slice_start"] = 0
        h["slice_end"] = shape[2] - 1
        h["slice_duration"] = 0.05
        h["toffset"] = 1.5
        if len(shape) > 3:
            h["pixdim"][4] = 2.0
    nib.save(img, a.output)
    if a.slope is not None:
        # nibabel picks its own scaling on save, so the stored slope/intercept are patched in.
        assert not a.output.endswith(".gz"), "--slope needs an uncompressed .nii"
        order = ">" if a.big_endian else "<"
        kind, offset = ("f8", 176) if a.nifti2 else ("f4", 112)
        with open(a.output, "r+b") as f:
            f.seek(offset)
            f.write(np.array([a.slope, a.inter], dtype=order + kind).tobytes())


if __name__ == "__main__":
    main()
