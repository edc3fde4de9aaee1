# SPDX-License-Identifier: Apache-2.0
"""Checks tandem svd outputs against numpy: python3 svd_verify_outputs.py IN_DIR OUT_DIR MODE
MODE is full, economy or values. Prints one line per file and exits non-zero on any mismatch."""
import glob
import os
import sys

import numpy as np

in_dir, out_dir, mode = sys.argv[1:4]
checked = 0


def check(a, out, where):
    global checked
    a_calc = a.astype(np.float32 if a.dtype == np.float32 else np.float64)
    want_dtype = a_calc.dtype
    if mode == "values":
        assert set(out.files) == {"S"}, (where, out.files)
        s_ref = np.linalg.svd(a_calc, compute_uv=False)
    else:
        assert set(out.files) == {"U", "S", "Vh"}, (where, out.files)
        u_ref, s_ref, vh_ref = np.linalg.svd(a_calc, full_matrices=(mode == "full"))
        u, vh = out["U"], out["Vh"]
        assert u.shape == u_ref.shape and vh.shape == vh_ref.shape, (where, u.shape, vh.shape)
        assert u.dtype == want_dtype and vh.dtype == want_dtype, (where, u.dtype)
        k = s_ref.shape[-1]
        rebuilt = (u[..., :, :k] * out["S"][..., None, :]) @ vh[..., :k, :]
        tol = 1e-4 if want_dtype == np.float32 else 1e-12
        err = np.linalg.norm(rebuilt - a_calc) / max(np.linalg.norm(a_calc), 1e-300)
        assert err < tol * 10, (where, "reconstruction", err)
    s = out["S"]
    assert s.dtype == want_dtype and s.shape == s_ref.shape, (where, s.dtype, s.shape)
    rel = 1e-5 if want_dtype == np.float32 else 1e-12
    scale = np.max(np.abs(s_ref)) if s_ref.size else 1.0
    assert np.max(np.abs(s - s_ref)) <= rel * scale, (where, np.max(np.abs(s - s_ref)))
    checked += 1
    print("ok", where)


for path in sorted(glob.glob(os.path.join(in_dir, "*.npy"))):
    stem = os.path.splitext(os.path.basename(path))[0]
    check(np.load(path), np.load(os.path.join(out_dir, stem + ".npz")), path)
for path in sorted(glob.glob(os.path.join(in_dir, "*.npz"))):
    stem = os.path.splitext(os.path.basename(path))[0]
    with np.load(path) as z:
        for member in z.files:
            check(z[member], np.load(os.path.join(out_dir, stem, member + ".npz")),
                  path + ":" + member)
leftovers = [f for f in os.listdir(out_dir) if ".tmp-" in f]
assert not leftovers, leftovers
print("checked", checked)
sys.exit(0 if checked else 3)
