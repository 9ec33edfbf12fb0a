"""HiPPO transition matrices and their normal-plus-low-rank (NPLR) / DPLR forms.

Glossary: ``N`` state size, ``r`` rank of the low-rank correction.

Every measure gives a continuous-time system ``x' = A x + B u`` (Gu et al. 2020, HiPPO; S4 paper
Sec. 2.2) together with a low-rank ``P`` (r, N) such that ``A + P^T P`` is normal (S4 Thm. 1), in fact
``c I + S`` with ``S`` skew-symmetric. Diagonalising that normal part with a unitary ``V`` is stable
(Sec. 3.2, App. C.1) and gives the DPLR form used by the kernels::

    A = V (Λ - P̃ P̃^*) V^*,   P̃ = V^* P^T,   B̃ = V^* B.

Only one member of each conjugate pair of ``Λ`` is kept (N/2 values); the other half is implied.
All of this is computed in float64 numpy: it runs once, at initialisation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MEASURES = ("legs", "legt", "lagt", "fout", "random")
# The smallest rank of P for which A + P^T P is normal.
REQUIRED_RANK = {"legs": 1, "legt": 2, "lagt": 1, "fout": 1, "random": 1}


def check_measure(measure: str) -> None:
    """Refuse a HiPPO measure outside ``MEASURES``, naming the valid ones.

    Parameters
    ----------
    measure
        The name to check.

    Raises
    ------
    ValueError
        An unknown measure.
    """
    if measure not in MEASURES:
        raise ValueError(f"unknown HiPPO measure {measure!r}; valid measures: {', '.join(MEASURES)}")


def transition(measure: str, N: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The HiPPO state and input matrices of a measure (S4 eq. 2 for LegS; HiPPO, Gu et al. 2020).

    Parameters
    ----------
    measure
        ``legs``, ``legt``, ``lagt``, ``fout`` or ``random`` (a random NPLR system, for ablations).
    N
        The state size.
    seed
        The random measure's seed.

    Returns
    -------
    tuple of numpy.ndarray
        ``A`` (N, N) and ``B`` (N,), float64.
    """
    check_measure(measure)
    n = np.arange(N, dtype=np.float64)
    if measure == "legs":  # scaled Legendre (S4 eq. 2)
        r = np.sqrt(2 * n + 1)
        A = -np.tril(np.outer(r, r), -1) - np.diag(n + 1)
        B = r.copy()
    elif measure == "legt":  # translated Legendre, window length 1 (halved as in LMU/HiPPO-LegT)
        r = np.sqrt(2 * n + 1)
        i, j = np.meshgrid(n, n, indexing="ij")
        sign = np.where(i < j, (-1.0) ** (i - j), 1.0)
        A = -0.5 * r[:, None] * sign * r[None, :]
        B = 0.5 * r
    elif measure == "lagt":  # translated Laguerre
        A = np.eye(N) / 2 - np.tril(np.ones((N, N)))
        B = np.ones(N)
    elif measure == "fout":  # translated Fourier
        freqs = np.arange(N // 2, dtype=np.float64)
        d = np.stack([np.zeros(N // 2), freqs], axis=-1).reshape(-1)[1:]
        A = np.pi * (-np.diag(d, 1) + np.diag(d, -1))
        B = np.zeros(N)
        B[0::2] = np.sqrt(2.0)
        B[0] = 1.0
        A = A - np.outer(B, B)  # the other endpoint u(t-1) of the window
    else:  # random NPLR system for ablations: -1/2 I + skew-symmetric, minus a random rank-1 term
        rng = np.random.default_rng(seed)
        S = rng.standard_normal((N, N)) * np.sqrt(N) / 2
        P = rng.standard_normal(N) / np.sqrt(2)
        A = -0.5 * np.eye(N) + (S - S.T) / 2 - np.outer(P, P)
        B = rng.standard_normal(N)
    return A, B


def rank_correction(measure: str, N: int, rank: int = 1, seed: int = 0) -> np.ndarray:
    """The low-rank term that makes a HiPPO matrix normal (S4 Thm. 1).

    Parameters
    ----------
    measure
        ``legs``, ``legt``, ``lagt``, ``fout`` or ``random``.
    N
        The state size.
    rank
        Rows of P; at least the measure's ``REQUIRED_RANK`` (legt: 2), extra rows are 0.
    seed
        The random measure's seed (the same stream as :func:`transition`).

    Returns
    -------
    numpy.ndarray
        ``P`` (rank, N) with ``A + P^T P`` normal.

    Raises
    ------
    ValueError
        A rank below the measure's.
    """
    check_measure(measure)
    need = REQUIRED_RANK[measure]
    if rank < need:
        raise ValueError(
            f"HiPPO measure {measure!r} needs a low-rank correction of rank >= {need} to be normal; "
            f"got rank={rank}. Pass rank={need} (or use mode='diag', which drops the low-rank term)."
        )
    n = np.arange(N, dtype=np.float64)
    if measure == "legs":
        P = np.sqrt(n + 0.5)[None]
    elif measure == "legt":
        p = np.sqrt(1 + 2 * n) * np.sqrt(0.5)
        P = np.stack([np.where(n % 2 == 0, 0.0, p), np.where(n % 2 == 1, 0.0, p)])
    elif measure == "lagt":
        P = np.full((1, N), np.sqrt(0.5))
    elif measure == "fout":
        P = np.zeros((1, N))
        P[0, 0::2] = np.sqrt(2.0)
        P[0, 0] = 1.0
    else:
        rng = np.random.default_rng(seed)
        rng.standard_normal((N, N))  # same stream as transition()
        P = (rng.standard_normal(N) / np.sqrt(2))[None]
    return np.concatenate([P, np.zeros((rank - need, N))]) if rank > need else P


@dataclass(frozen=True)
class DPLR:
    """Half of a conjugate-symmetric DPLR system ``A = V (Λ - P̃ P̃^*) V^*`` (S4 Sec. 3.2).

    Attributes
    ----------
    Lambda
        (N/2,) complex: the eigenvalues of the normal part ``A + P^T P``, one of each conjugate pair.
    P
        (r, N/2) complex: the low-rank term in the eigenbasis.
    B
        (N/2,) complex: the input matrix in the eigenbasis.
    V
        (N, N/2) complex: orthonormal eigenvectors; ``[V, conj(V)]`` is unitary.
    """

    Lambda: np.ndarray
    P: np.ndarray
    B: np.ndarray
    V: np.ndarray


def nplr(measure: str, N: int, rank: int = 1, seed: int = 0, tol: float = 1e-8) -> DPLR:
    """Stable diagonalisation of a HiPPO matrix into DPLR form (S4 Thm. 1, App. C.1), float64.

    The normal part ``A + P^T P = c I + S`` (S skew-symmetric) is diagonalised through the Hermitian
    matrix ``-i S`` with ``eigh``, which is unitary and well conditioned, unlike diagonalising ``A``.

    Parameters
    ----------
    measure
        ``legs``, ``legt``, ``lagt``, ``fout`` or ``random``.
    N
        The state size (even: the eigenvalues come in conjugate pairs).
    rank
        The low-rank term's (:func:`rank_correction`).
    seed
        The random measure's seed.
    tol
        How far from skew-symmetric ``S`` may be, relative to its largest entry.

    Returns
    -------
    DPLR
        One half of the conjugate pairs: Λ, P, B and the eigenvectors V.

    Raises
    ------
    ValueError
        An odd N, or a normal part that is not ``cI + skew``.
    """
    if N % 2:
        raise ValueError(f"d_state must be even (states come in conjugate pairs); got {N}")
    A, B = transition(measure, N, seed)
    P = rank_correction(measure, N, rank, seed)
    AP = A + P.T @ P
    c = np.mean(np.diag(AP))
    S = AP - c * np.eye(N)
    if not np.allclose(S, -S.T, atol=tol * max(1.0, np.abs(S).max())):
        raise ValueError(f"A + P^T P is not of the form cI + skew for measure {measure!r}")
    w_im, V = np.linalg.eigh(-1j * S)
    order = np.argsort(w_im, kind="stable")
    w_im, V = w_im[order], V[:, order]
    # Keep the N/2 eigenvalues with negative imaginary part; their conjugates are the other half.
    V_half, w_half = V[:, : N // 2].copy(), w_im[: N // 2].copy()
    zero = np.abs(w_half) < 1e-6
    if zero.any():
        # A zero pair of S spans a real 2-D null space {u1, u2}: use (u1 + i u2)/sqrt(2) so that the
        # vector and its conjugate stay orthonormal.
        null = np.abs(w_im) < 1e-6
        if null.sum() != 2:
            raise ValueError(f"measure {measure!r} at N={N} has {null.sum()} zero eigenvalues; at most one pair is supported")
        basis = np.linalg.svd(np.concatenate([V[:, null].real, V[:, null].imag], axis=1))[0][:, :2]
        V_half[:, zero] = ((basis[:, 0] + 1j * basis[:, 1]) / np.sqrt(2))[:, None]
        w_half[zero] = 0.0
    Lambda = c + 1j * w_half
    return DPLR(Lambda=Lambda, P=P @ V_half.conj(), B=V_half.conj().T @ B, V=V_half)


DIAG_INITS = ("diag-lin", "diag-inv", "diag-legs")


def diagonal_init(init: str, N: int) -> tuple[np.ndarray, np.ndarray]:
    """S4D initialisations (Gu et al. 2022, "On the Parameterization and Initialization of Diagonal
    State Space Models").

    Parameters
    ----------
    init
        ``diag-lin`` (S4D-Lin), ``diag-inv`` (S4D-Inv) or ``diag-legs`` (LegS's Λ).
    N
        The state size (even).

    Returns
    -------
    tuple of numpy.ndarray
        ``Λ`` (N/2,) and ``B`` (N/2,) complex, one half of the conjugate pairs.
    """
    if N % 2:
        raise ValueError(f"d_state must be even (states come in conjugate pairs); got {N}")
    n = np.arange(N // 2, dtype=np.float64)
    if init == "diag-lin":
        return -0.5 + 1j * np.pi * n, np.ones(N // 2, dtype=complex)
    if init == "diag-inv":
        return -0.5 + 1j * N / np.pi * (N / (2 * n + 1) - 1), np.ones(N // 2, dtype=complex)
    if init == "diag-legs":
        dplr = nplr("legs", N)
        return dplr.Lambda, dplr.B
    raise ValueError(f"unknown diagonal init {init!r}; valid: {', '.join(DIAG_INITS)}")
