"""Roots of trust outside the project: the HiPPO matrices against the values of the original authors'
``transition()`` (state-spaces/s4, ``src/models/hippo/hippo.py``) written out by hand at small N, and
the dense discretisation against ``scipy.signal.cont2discrete``."""

import numpy as np
import pytest
import torch
from scipy.signal import cont2discrete

from s4forecast.ssm import discretize, hippo

r3, r5, r15, r2 = np.sqrt(3), np.sqrt(5), np.sqrt(15), np.sqrt(2)
REFERENCE = {
    # LegS (S4 eq. 2): A_nk = -sqrt(2n+1) sqrt(2k+1) below the diagonal, -(n+1) on it; B_n = sqrt(2n+1)
    "legs": (3, [[-1, 0, 0], [-r3, -2, 0], [-r5, -r15, -3]], [1, r3, r5]),
    # LegT, halved "for timescale correctness" as in the authors' code
    "legt": (
        3,
        [[-0.5, 0.5 * r3, -0.5 * r5], [-0.5 * r3, -1.5, 0.5 * r15], [-0.5 * r5, -0.5 * r15, -2.5]],
        [0.5, 0.5 * r3, 0.5 * r5],
    ),
    # LagT (beta = 1): I/2 - tril(ones)
    "lagt": (3, [[-0.5, 0, 0], [-1, -0.5, 0], [-1, -1, -0.5]], [1, 1, 1]),
    # FouT: the rotation blocks pi * k, minus the rank-one endpoint correction B B^T
    "fout": (4, [[-1, 0, -r2, 0], [0, 0, 0, 0], [-r2, 0, -2, -np.pi], [0, 0, np.pi, 0]], [1, 0, r2, 0]),
}


@pytest.mark.parametrize("measure", sorted(REFERENCE))
def test_hippo_matrices_equal_the_authors_values(measure):
    N, A_ref, B_ref = REFERENCE[measure]
    A, B = hippo.transition(measure, N)
    np.testing.assert_allclose(A, np.array(A_ref, dtype=float), rtol=0, atol=1e-12)
    np.testing.assert_allclose(B, np.array(B_ref, dtype=float), rtol=0, atol=1e-12)


@pytest.mark.parametrize("method", ["bilinear", "zoh"])
@pytest.mark.parametrize("measure", ["legs", "fout"])
def test_dense_discretisation_equals_scipy(method, measure):
    A, B = hippo.transition(measure, 8)
    dt = 0.07
    Ad_ref, Bd_ref, *_ = cont2discrete((A, B[:, None], np.zeros((1, 8)), np.zeros((1, 1))), dt, method=method)
    Ad, Bd = discretize.dense(torch.as_tensor(A), torch.as_tensor(B), torch.tensor(dt, dtype=torch.float64), method)
    np.testing.assert_allclose(Ad.numpy(), Ad_ref, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(Bd.numpy(), Bd_ref[:, 0], rtol=1e-10, atol=1e-12)
