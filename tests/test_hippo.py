import numpy as np
import pytest

from s4forecast.ssm import hippo


def full_system(d: hippo.DPLR):
    V = np.concatenate([d.V, d.V.conj()], 1)
    Lam = np.concatenate([d.Lambda, d.Lambda.conj()])
    P = np.concatenate([d.P, d.P.conj()], 1)
    return V, Lam, P


def test_legs_eigenvalues_are_minus_one_to_minus_n():
    A, _ = hippo.transition("legs", 12)
    eig = np.sort(np.linalg.eigvals(A).real)
    np.testing.assert_allclose(eig, -np.arange(12, 0, -1), atol=1e-8)


@pytest.mark.parametrize("measure", hippo.MEASURES)
@pytest.mark.parametrize("N", [8, 16])
def test_nplr_reconstructs_A(measure, N):
    d = hippo.nplr(measure, N, rank=hippo.REQUIRED_RANK[measure])
    A, B = hippo.transition(measure, N)
    V, Lam, P = full_system(d)
    np.testing.assert_allclose(V.conj().T @ V, np.eye(N), atol=1e-12)  # unitary
    np.testing.assert_allclose(V @ (np.diag(Lam) - P.T @ P.conj()) @ V.conj().T, A, atol=1e-10)
    np.testing.assert_allclose(V @ np.concatenate([d.B, d.B.conj()]), B, atol=1e-10)


@pytest.mark.parametrize("measure", hippo.MEASURES)
def test_rank_correction_makes_A_normal(measure):
    A, _ = hippo.transition(measure, 10)
    P = hippo.rank_correction(measure, 10, hippo.REQUIRED_RANK[measure])
    AP = A + P.T @ P
    np.testing.assert_allclose(AP @ AP.T, AP.T @ AP, atol=1e-9)


def test_legt_with_rank_one_names_the_fix():
    with pytest.raises(ValueError, match="rank=2"):
        hippo.nplr("legt", 8, rank=1)


def test_unknown_measure_lists_valid_ones():
    with pytest.raises(ValueError, match="legs, legt"):
        hippo.transition("legendre", 8)


def test_odd_state_size_rejected():
    with pytest.raises(ValueError, match="even"):
        hippo.nplr("legs", 7)


def test_diag_inits_are_stable():
    for init in hippo.DIAG_INITS:
        Lam, B = hippo.diagonal_init(init, 16)
        assert Lam.shape == B.shape == (8,)
        assert (Lam.real < 0).all()
