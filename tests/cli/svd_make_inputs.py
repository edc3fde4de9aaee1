# SPDX-License-Identifier: Apache-2.0
"""Writes the inputs of the svd end-to-end test: good files in DIR/good, bad ones in DIR/bad."""
import os
import sys

import numpy as np

root = sys.argv[1]
good = os.path.join(root, "good")
bad = os.path.join(root, "bad")
os.makedirs(good)
os.makedirs(bad)
rng = np.random.default_rng(1)

np.save(os.path.join(good, "square.npy"), rng.random((40, 40)))
np.save(os.path.join(good, "tall32.npy"), rng.random((50, 12)).astype(np.float32))
np.save(os.path.join(good, "wide_be_fortran.npy"),
        np.asfortranarray(rng.random((7, 30))).astype(">f8"))
np.save(os.path.join(good, "stack.npy"), rng.random((4, 9, 6)))
np.save(os.path.join(good, "ints.npy"), rng.integers(-5, 5, (6, 6)).astype(np.int16))
np.savez_compressed(os.path.join(good, "bundle.npz"), a=rng.random((5, 8)), b=rng.random((3, 3)))

with open(os.path.join(bad, "magic.npy"), "wb") as f:
    f.write(b"this is not numpy data at all, not even close......")
np.save(os.path.join(bad, "truncated.npy"), rng.random((30, 30)))
with open(os.path.join(bad, "truncated.npy"), "r+b") as f:
    f.truncate(1000)
np.save(os.path.join(bad, "vector.npy"), rng.random(10))
np.save(os.path.join(bad, "complex.npy"), rng.random((4, 4)) + 1j)
np.save(os.path.join(bad, "empty.npy"), np.zeros((0, 5)))
stack = rng.random((3, 5, 5))
stack[1, 2, 3] = np.nan
np.save(os.path.join(bad, "nanstack.npy"), stack)
np.save(os.path.join(bad, "fine.npy"), rng.random((5, 5)))
np.savez(os.path.join(bad, "mixed.npz"), good=rng.random((4, 3)), cplx=rng.random((3, 3)) + 2j)
