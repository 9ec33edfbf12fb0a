"""The S4 options, declared and validated once (STYLE 9): S4Layer, S4Encoder, S4Model, S4Classifier
and the sweep space all check their S4 arguments here, with one message per mistake that names the
option and lists what is valid."""

from __future__ import annotations

import dataclasses
import math
import numbers
from dataclasses import dataclass

import numpy as np
from torch import nn

from s4forecast.nn.conv import CONVOLUTIONS
from s4forecast.ssm import cauchy, discretize, hippo, systems

ACTIVATIONS = {"gelu": nn.GELU, "silu": nn.SiLU, "relu": nn.ReLU, "tanh": nn.Tanh, "identity": nn.Identity}
POSTACTS = ("glu", "linear")
NORMS = ("layer", "batch")


def is_integer(x) -> bool:
    """Whether ``x`` is an int or a numpy integer, not a bool.

    Parameters
    ----------
    x
        Any value.

    Returns
    -------
    bool
    """
    return isinstance(x, numbers.Integral) and not isinstance(x, bool)


def is_positive_finite(x) -> bool:
    """Whether ``x`` is a real number (numpy's too, not a bool) in (0, inf).

    Parameters
    ----------
    x
        Any value.

    Returns
    -------
    bool
    """
    return isinstance(x, numbers.Real) and not isinstance(x, bool) and 0 < x < math.inf


@dataclass(frozen=True)
class S4Options:
    """Options of an S4 encoder (its blocks and layers); invalid values raise ValueError at construction,
    naming the option and what is valid. Frozen: built once at a front end and handed down.

    Parameters
    ----------
    d_model
        H, the channels of every layer.
    n_layers
        The number of blocks.
    d_state
        N, each SSM's state size (even for nplr / diag: conjugate pairs).
    mode
        ``nplr`` (S4) / ``diag`` (S4D) / ``dense`` (LSSL reference).
    init
        A HiPPO measure (legs, legt, lagt, fout, random), or for diag an S4D init (diag-lin, diag-inv,
        diag-legs).
    discretization
        ``bilinear`` / ``zoh`` (nplr: bilinear only).
    rank
        The rank of nplr's low-rank term (legt and fout need 2).
    dt_min, dt_max
        The log-uniform range of the initial Δ (App. D.2).
    bidirectional
        Every layer also reads the sequence backwards.
    backend
        The Cauchy kernel's backend (auto, naive, torch, keops, triton).
    convolution
        How the kernel is applied: ``auto`` (a Toeplitz product up to 64 positions, else FFT), ``fft``,
        ``direct``.
    activation
        Each layer's nonlinearity (gelu, silu, relu, tanh, identity).
    postact
        Each layer's output map: ``glu`` (Linear(H, 2H) + GLU) or ``linear`` (Linear(H, H)).
    dropout
        In [0, 1).
    prenorm
        Normalise before each layer (True) or after its residual sum.
    norm
        ``layer`` or ``batch``.
    """

    d_model: int = 128
    n_layers: int = 4
    d_state: int = 64
    mode: str = "nplr"
    init: str = "legs"
    discretization: str = "bilinear"
    rank: int = 1
    dt_min: float = 1e-3
    dt_max: float = 1e-1
    bidirectional: bool = False
    backend: str = "auto"
    convolution: str = "auto"
    activation: str = "gelu"
    postact: str = "glu"
    dropout: float = 0.0
    prenorm: bool = True
    norm: str = "layer"

    def __post_init__(self):
        for name in ("d_model", "n_layers", "d_state", "rank"):
            value = getattr(self, name)
            _require(is_integer(value) and value >= 1, f"`{name}` must be a positive integer; got {value!r}")
        _choice("mode", self.mode, systems.MODES)
        inits = self.inits_of(self.mode)
        hint = " (the S4D inits need mode='diag')" if self.init in hippo.DIAG_INITS and self.mode != "diag" else ""
        _require(self.init in inits, f"unknown `init` {self.init!r} for mode={self.mode!r}{hint}; valid: {', '.join(inits)}")
        _require(
            self.mode == "dense" or self.d_state % 2 == 0,
            f"`d_state` must be even for mode={self.mode!r} (states come in conjugate pairs); got {self.d_state}",
        )
        _choice("discretization", self.discretization, discretize.DISCRETIZATIONS)
        _require(
            self.discretization in self.discretizations_of(self.mode),
            "mode='nplr' needs discretization='bilinear' (its kernel goes through the bilinear transform, "
            "Lemma C.3); use mode='diag' for 'zoh'",
        )
        if self.mode == "nplr":
            need = hippo.REQUIRED_RANK[self.init]
            _require(self.rank >= need, f"init={self.init!r} needs `rank` >= {need}; got rank={self.rank}")
        for name in ("dt_min", "dt_max"):
            value = getattr(self, name)
            _require(
                is_positive_finite(value),
                f"`{name}` must be a positive finite number; got {value!r}",
            )
        _require(self.dt_min <= self.dt_max, f"need `dt_min` <= `dt_max`; got {self.dt_min}, {self.dt_max}")
        _choice("backend", self.backend, cauchy.BACKENDS, " (Cauchy kernel)")
        _choice("convolution", self.convolution, CONVOLUTIONS)
        _choice("activation", self.activation, tuple(ACTIVATIONS))
        _choice("postact", self.postact, POSTACTS)
        _require(
            isinstance(self.dropout, numbers.Real) and not isinstance(self.dropout, bool) and 0 <= self.dropout < 1,
            f"`dropout` must be a number in [0, 1); got {self.dropout!r}",
        )
        for name in ("bidirectional", "prenorm"):
            require_bool(name, getattr(self, name))
        _choice("norm", self.norm, NORMS)

    @classmethod
    def names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in dataclasses.fields(cls))

    @classmethod
    def pick(cls, values: dict) -> S4Options:
        """The options among ``values`` (other keys ignored; missing ones take the defaults)."""
        return cls(**{k: values[k] for k in cls.names() if k in values})

    @classmethod
    def of(cls, options: S4Options | None, **values) -> S4Options:
        """``options`` as given, or built from keyword arguments (each an option name, else a TypeError
        that names it, as a misspelt keyword would): one validation per front end."""
        if unknown := sorted(set(values) - set(cls.names())):
            raise TypeError(f"unknown S4 option(s) {', '.join(map(repr, unknown))}; valid: {', '.join(cls.names())}")
        return options if options is not None else cls(**values)

    @staticmethod
    def inits_of(mode: str) -> tuple[str, ...]:
        """The ``init`` values mode ``mode`` takes: the HiPPO measures, and for diag the S4D inits too."""
        return hippo.MEASURES + (hippo.DIAG_INITS if mode == "diag" else ())

    @staticmethod
    def discretizations_of(mode: str) -> tuple[str, ...]:
        """The ``discretization`` values mode ``mode`` takes: nplr's kernel needs the bilinear transform."""
        return ("bilinear",) if mode == "nplr" else discretize.DISCRETIZATIONS

    def ssm_kwargs(self, l_max: int | None, seed: int) -> dict:
        """The arguments of :func:`~s4forecast.ssm.systems.build_ssm` for one SSM of these options (the one
        place they are mapped): ``l_max``, ``backend`` and ``rank`` for nplr only.

        Parameters
        ----------
        l_max
            The length nplr's C̃ is stored for; None: C itself.
        seed
            The random measure's seed.

        Returns
        -------
        dict
        """
        kwargs = dict(
            d_state=self.d_state,
            init=self.init,
            dt_min=self.dt_min,
            dt_max=self.dt_max,
            discretization=self.discretization,
            seed=seed,
        )
        if self.mode == "nplr":
            kwargs.update(l_max=l_max, backend=self.backend, rank=self.rank)
        return kwargs


def require_bool(name: str, value) -> None:
    """Refuse a flag that is not True or False (numpy's too): ``"no"`` or ``0`` would be taken as a truth value.

    Parameters
    ----------
    name
        The option's name, for the error.
    value
        Its value.
    """
    _require(isinstance(value, (bool, np.bool_)), f"`{name}` must be True or False; got {value!r}")


def _require(ok: bool, message: str) -> None:
    if not ok:
        raise ValueError(message)


def _choice(name: str, value, valid: tuple, what: str = "") -> None:
    _require(value in valid, f"unknown `{name}` {value!r}{what}; valid: {', '.join(map(str, valid))}")


DEFAULTS = S4Options()  # every S4 default, written once: the layer, block and encoder signatures read it
