"""The S4 layer: an SSM convolution per channel, D skip, activation, output mixing (S4 Sec. 3.4).

Shapes: input and output (B, L, H) with B batch, L length, H = d_model channels.
"""

from __future__ import annotations

import torch
from torch import nn

from s4forecast.nn.conv import conv
from s4forecast.nn.options import ACTIVATIONS, DEFAULTS, S4Options, is_integer, is_positive_finite
from s4forecast.ssm.snapshot import ValueSnapshot
from s4forecast.ssm.systems import build_ssm


def check_sequence(x: torch.Tensor, d: int, dtype: torch.dtype, name: str = "input") -> None:
    """Raise a clear error for anything but a finite (B, L, d) tensor of the module's dtype (any floating
    dtype under autocast, which casts it).

    Parameters
    ----------
    x
        The input to check.
    d
        Its feature size.
    dtype
        The module's parameter dtype.
    name
        What the error calls it.

    Raises
    ------
    TypeError, ValueError
        Naming what is wrong.
    """
    if not isinstance(x, torch.Tensor):
        raise TypeError(
            f"{name} must be a torch.Tensor of shape (batch, length, {d}); got {type(x).__name__}"
            + (" (use torch.as_tensor)" if hasattr(x, "__array__") else "")
        )
    if not x.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor; got {x.dtype}")
    if x.dtype != dtype and not torch.is_autocast_enabled(x.device.type):
        raise TypeError(
            f"{name} has dtype {x.dtype} but the module's parameters are {dtype}: convert one of them "
            f"(e.g. x.to({dtype}) or module.to({x.dtype}))"
        )
    if x.dim() != 3 or x.shape[-1] != d:
        raise ValueError(f"{name} must have shape (batch, length, {d}); got {tuple(x.shape)}")
    if x.shape[1] == 0:
        raise ValueError(f"{name} has length 0")
    # a data-dependent scan: an exported graph (torch.export, ONNX) leaves its inputs to its caller
    if not torch.compiler.is_exporting() and not torch.isfinite(x).all():
        raise ValueError(f"{name} contains NaN or Inf values")


def length_mask(lengths: torch.Tensor | None, x: torch.Tensor) -> torch.Tensor | None:
    """The mask of the valid positions of a right-padded batch.

    Parameters
    ----------
    lengths
        (B,) integers in [1, L], or None.
    x
        (B, L, H): the padded batch.

    Returns
    -------
    torch.Tensor or None
        (B, L) in x's dtype, 1 on the first ``lengths[b]`` positions; None for None.

    Raises
    ------
    TypeError, ValueError
        Lengths that do not fit x.
    """
    if lengths is None:
        return None
    if (
        not isinstance(lengths, torch.Tensor)
        or lengths.is_floating_point()
        or lengths.is_complex()
        or lengths.dtype == torch.bool
    ):
        raise TypeError(f"lengths must be an integer torch.Tensor of shape ({x.shape[0]},); got {lengths!r:.80}")
    if lengths.shape != (x.shape[0],):
        raise ValueError(f"lengths must have shape ({x.shape[0]},), one per sequence; got {tuple(lengths.shape)}")
    outside = (lengths < 1) | (lengths > x.shape[1])
    if outside.any():
        raise ValueError(f"lengths must lie in [1, {x.shape[1]}] (the padded length); got {lengths[outside].tolist()[:10]}")
    return (torch.arange(x.shape[1], device=x.device)[None] < lengths.to(x.device)[:, None]).to(x.dtype)


def check_step(x_t: torch.Tensor, state: torch.Tensor, state_shape: tuple, state_dtype: torch.dtype, d_model: int) -> None:
    """Refuse an input or state that one recurrent step cannot take, naming what is wrong.

    Parameters
    ----------
    x_t
        Must be (B, d_model) real floats.
    state
        Must be ``(B, *state_shape)`` of ``state_dtype``, as ``default_state(B)`` makes it.
    state_shape, state_dtype
        The layer's state's.
    d_model
        The layer's width.
    """
    if not isinstance(x_t, torch.Tensor) or x_t.dim() != 2 or x_t.shape[-1] != d_model or not x_t.is_floating_point():
        got = f"{tuple(x_t.shape)} {x_t.dtype}" if isinstance(x_t, torch.Tensor) else type(x_t).__name__
        raise ValueError(f"step: x_t must be a (batch, {d_model}) float tensor; got {got}")
    expected = (x_t.shape[0], *state_shape)
    if not isinstance(state, torch.Tensor) or tuple(state.shape) != expected or state.dtype != state_dtype:
        got = f"{tuple(state.shape)} {state.dtype}" if isinstance(state, torch.Tensor) else type(state).__name__
        raise ValueError(f"step: state must be as default_state({x_t.shape[0]}) makes it: {expected} {state_dtype}; got {got}")


def check_rate(rate: float) -> None:
    """Refuse a rate that is not a positive finite number (0, a negative or an infinite rate gives a
    degenerate or NaN kernel).

    Parameters
    ----------
    rate
        Multiplies Δ.
    """
    if not is_positive_finite(rate):
        raise ValueError(f"rate must be a positive finite number; got {rate!r}")


class S4Layer(nn.Module):
    """S4 layer: H independent SSMs convolved with their input (S4 eq. 5), then activation, dropout and a
    channel-mixing output map. (B, L, H) -> (B, L, H); causal unless ``bidirectional``.

    Parameters
    ----------
    d_model
        H, the number of channels (one SSM each).
    d_state
        N, the state size of each SSM (even for ``nplr``/``diag``: conjugate pairs).
    l_max
        The length the NPLR kernel is parametrised for (C̃ = C (I - Ā^l_max), Sec. 3.3); None: C itself.
    mode
        ``nplr`` (S4, Algorithm 1), ``diag`` (S4D) or ``dense`` (LSSL reference).
    init
        A HiPPO measure (legs, legt, lagt, fout, random) or, for diag, diag-lin / diag-inv / diag-legs.
    discretization
        ``bilinear`` (S4 eq. 3) or ``zoh`` (diag and dense).
    bidirectional
        A second SSM reads the sequence backwards (no recurrent view then).
    dt_min, dt_max
        The log-uniform range of each channel's initial step size Δ (App. D.2).
    backend
        The Cauchy kernel's backend (:func:`~s4forecast.ssm.cauchy.cauchy`): auto, torch, keops, triton.
    convolution
        ``auto``, ``fft`` or ``direct`` (:func:`~s4forecast.nn.conv.conv`).
    rank
        The rank of the low-rank term of ``nplr`` (legs needs 1, fout and legt 2).
    activation
        The pointwise nonlinearity after the convolution (gelu, silu, relu, tanh, identity).
    postact
        ``glu``: Linear(H, 2H) + GLU; ``linear``: Linear(H, H).
    dropout
        Dropout after the activation.
    seed
        The seed of the HiPPO ``random`` measure.
    options
        An :class:`~s4forecast.nn.options.S4Options` that replaces all the options above (an encoder passes
        its own down); its ``d_model`` must be this layer's.

    Raises
    ------
    ValueError
        An option out of its range, naming it and what is valid.
    """

    def __init__(
        self,
        d_model: int,
        d_state: int = DEFAULTS.d_state,
        l_max: int | None = None,
        mode: str = DEFAULTS.mode,
        init: str = DEFAULTS.init,
        discretization: str = DEFAULTS.discretization,
        bidirectional: bool = DEFAULTS.bidirectional,
        dt_min: float = DEFAULTS.dt_min,
        dt_max: float = DEFAULTS.dt_max,
        backend: str = DEFAULTS.backend,
        convolution: str = DEFAULTS.convolution,
        rank: int = DEFAULTS.rank,
        activation: str = DEFAULTS.activation,
        postact: str = DEFAULTS.postact,
        dropout: float = DEFAULTS.dropout,
        seed: int = 0,
        *,
        options: S4Options | None = None,
    ):
        super().__init__()
        if options is None:
            options = S4Options(
                d_model=d_model,
                d_state=d_state,
                mode=mode,
                init=init,
                discretization=discretization,
                bidirectional=bidirectional,
                dt_min=dt_min,
                dt_max=dt_max,
                backend=backend,
                convolution=convolution,
                rank=rank,
                activation=activation,
                postact=postact,
                dropout=dropout,
            )
        elif options.d_model != d_model:
            raise ValueError(f"S4Layer(d_model={d_model}) was given options with d_model={options.d_model}")
        self.options = options
        self.d_model, self.bidirectional, self.convolution = d_model, options.bidirectional, options.convolution
        self.ssm = nn.ModuleList(
            [build_ssm(options.mode, d_model, **options.ssm_kwargs(l_max, seed)) for _ in range(1 + options.bidirectional)]
        )
        self.D = nn.Parameter(torch.randn(d_model))
        self._kernel_cache = None  # (L, rate, ValueSnapshot of the SSM, kernel) of the last kernel computed without autograd
        self._frozen_kernel = None  # freeze_kernel(): a constant kernel, for export
        self.activation = ACTIVATIONS[options.activation]()
        self.dropout = nn.Dropout(options.dropout)
        self.output = (
            nn.Sequential(nn.Linear(d_model, 2 * d_model), nn.GLU(-1))
            if options.postact == "glu"
            else nn.Linear(d_model, d_model)
        )

    def conv_kernel(self, L: int, rate: float = 1.0) -> torch.Tensor:
        """The convolution kernel K̄ (S4 eq. 5) of every channel's SSM.

        Parameters
        ----------
        L
            The kernel length (positive integer).
        rate
            Multiplies every Δ (S4 Sec. 4.3).

        Returns
        -------
        torch.Tensor
            Real (H, L); (2, H, L) when bidirectional (forward, backward).

        Without autograd (validation, prediction) the kernel is kept and reused while L, the rate and
        the values of the SSM's parameters and buffers stay the same: it does not depend on the input,
        and at ``rate != 1`` or beyond ``l_max`` computing it costs more than the convolution. The
        values are compared, not tensor versions: fused optimisers update parameters in place without
        bumping their version counter.
        """
        if self._frozen_kernel is not None and self._frozen_kernel.shape[-1] == L:
            return self._frozen_kernel
        if torch.compiler.is_exporting():
            raise RuntimeError("an S4 layer is exported with a constant kernel: call freeze_kernel(L, rate) first")
        if not is_integer(L) or L < 1:
            raise ValueError(f"kernel length L must be a positive integer; got {L!r}")
        check_rate(rate)
        if torch.is_grad_enabled():
            return self._kernel(L, rate)
        cache = self._kernel_cache
        if cache is None or cache[:2] != (L, float(rate)) or not cache[2].matches(self.ssm):
            self._kernel_cache = (L, float(rate), ValueSnapshot(self.ssm), self._kernel(L, rate))
        return self._kernel_cache[3]

    def freeze_kernel(self, L: int, rate: float = 1.0) -> None:
        """Keep the kernel as a constant, which ``conv_kernel(L)`` returns whatever the rate asked until
        :meth:`unfreeze_kernel`: at inference the kernel does not depend on the input, and an exported graph
        (torch.export, ONNX, which has no complex numbers) takes it as a constant.

        Parameters
        ----------
        L
            The kernel length.
        rate
            Multiplies Δ.
        """
        with torch.no_grad():
            self._frozen_kernel = self._kernel(L, rate).detach().clone()

    def unfreeze_kernel(self) -> None:
        """Compute the kernel from the parameters again (undo :meth:`freeze_kernel`)."""
        self._frozen_kernel = None

    def _kernel(self, L: int, rate: float) -> torch.Tensor:
        k = [ssm.conv_kernel(L, rate) for ssm in self.ssm]
        return torch.stack(k) if self.bidirectional else k[0]

    def ssm_matrices(self):
        """The forward SSM's continuous system as dense matrices (:meth:`~s4forecast.ssm.systems.SSM.ssm_matrices`).

        Returns
        -------
        tuple of torch.Tensor
            (A (H, N, N), B (H, N), C (H, N)) complex, conjugate pairs expanded, and Δ (H,) real.
        """
        return tuple(t.resolve_conj() for t in self.ssm[0].ssm_matrices())  # plain tensors: .numpy() works

    def forward(self, x: torch.Tensor, rate: float = 1.0, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """Apply the layer to a sequence (convolution view).

        Parameters
        ----------
        x
            (B, L, H) real, finite.
        rate
            Multiplies every Δ (S4 Sec. 4.3).
        lengths
            (B,) or None: x is right-padded and the convolution reads only each sequence's first
            ``lengths[b]`` positions, so a bidirectional layer's output there is the unpadded sequence's
            (a causal one never reads ahead, with or without it).

        Returns
        -------
        torch.Tensor
            (B, L, H).
        """
        check_sequence(x, self.d_model, self.D.dtype)
        check_rate(rate)
        return self.unchecked_forward(x, rate, length_mask(lengths, x))

    def unchecked_forward(self, x: torch.Tensor, rate: float = 1.0, mask: torch.Tensor | None = None) -> torch.Tensor:
        """``forward`` without the input scan, for callers that checked their input once (S4Encoder).

        The kernel and the FFT convolution run in at least float32 (FFTs have no bfloat16 kernels),
        and the result goes back to the input's dtype, so under bfloat16 autocast only the output
        matmuls run in bfloat16.

        Parameters
        ----------
        x
            (B, L, H).
        rate
            Multiplies Δ.
        mask
            (B, L) or None: zeroes padded positions before the convolution (:func:`length_mask`).

        Returns
        -------
        torch.Tensor
            (B, L, H).
        """
        u = x.transpose(1, 2).to(torch.promote_types(x.dtype, torch.float32))  # (B, H, L)
        if mask is not None:  # the convolution is linear: zeros past the end add nothing to any sum
            u = u * mask[:, None].to(u.dtype)
        k = self.conv_kernel(u.shape[-1], rate).to(u.dtype)
        y = conv(u, k, self.convolution) + u * self.D[:, None]
        # (B, L, H) contiguous: elementwise backward passes (GELU's above all) are several times slower on the transposed view
        return self._post(y.transpose(1, 2).contiguous().to(x.dtype))

    def _post(self, y: torch.Tensor) -> torch.Tensor:
        return self.output(self.dropout(self.activation(y)))

    # -- recurrent view (S4 Sec. 3.1); unidirectional only -------------------------------------
    def setup_step(self, rate: float = 1.0) -> None:
        """Prepare the recurrent view (S4 Sec. 2, eq. 3) from the current parameters; needed before
        :meth:`step` and again after the parameters change.

        Parameters
        ----------
        rate
            Multiplies every Δ (S4 Sec. 4.3).
        """
        if self.bidirectional:
            raise RuntimeError("a bidirectional S4 layer reads the future and has no recurrent view")
        check_rate(rate)
        self.ssm[0].setup_step(rate)

    def default_state(self, batch_size: int) -> torch.Tensor:
        """The zero state of :meth:`step`.

        Parameters
        ----------
        batch_size
            The number of sequences stepped together.

        Returns
        -------
        torch.Tensor
            (batch_size, H, N_state) complex zeros (N_state = N/2 for conjugate-pair modes).
        """
        return self.ssm[0].default_state(batch_size)

    def step(self, x_t: torch.Tensor, state: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """One position of the recurrent view (S4 eq. 3); equals :meth:`forward` one position at a time.

        Parameters
        ----------
        x_t
            (B, H) real: the input at one position.
        state
            (B, H, N_state) complex, as :meth:`default_state` or the previous step returned it.

        Returns
        -------
        tuple of torch.Tensor
            The output y_t (B, H) and the new state.
        """
        ssm = self.ssm[0]
        check_step(x_t, state, (ssm.H, ssm.state_size), ssm.log_dt.dtype.to_complex(), self.d_model)
        y, state = self.ssm[0].step(x_t, state)
        return self._post(y.to(x_t.dtype) + x_t * self.D), state
