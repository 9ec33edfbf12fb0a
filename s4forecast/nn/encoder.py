"""A stack of residual S4 blocks: (B, L, d_input) -> (B, L, d_model)."""

from __future__ import annotations

import torch
from torch import nn

from s4forecast.nn.options import DEFAULTS, S4Options
from s4forecast.nn.s4layer import S4Layer, check_rate, check_sequence, length_mask


class _BatchNormL(nn.BatchNorm1d):
    """BatchNorm over channels of a (B, L, H) tensor, or of a (B, H) step."""

    def forward(self, x):
        return super().forward(x.transpose(1, 2)).transpose(1, 2) if x.dim() == 3 else super().forward(x)


class S4Block(nn.Module):
    """Residual block ``x + dropout(S4(norm(x)))`` (prenorm) or ``norm(x + dropout(S4(x)))``.

    Parameters
    ----------
    d_model
        H, the number of channels.
    prenorm
        Normalise before the layer (True) or after the residual sum (False).
    norm
        ``layer`` or ``batch``.
    dropout
        Dropout of the layer's output (and inside the layer).
    options
        An :class:`~s4forecast.nn.options.S4Options` that replaces every other option.
    l_max, seed
        Passed to the :class:`~s4forecast.nn.s4layer.S4Layer`.
    **layer_options
        Other :class:`~s4forecast.nn.options.S4Options` fields, the layer's (``d_state``, ``mode``, ...);
        an unknown name is a TypeError that names it.
    """

    def __init__(
        self,
        d_model: int,
        prenorm: bool = DEFAULTS.prenorm,
        norm: str = DEFAULTS.norm,
        dropout: float = DEFAULTS.dropout,
        *,
        options: S4Options | None = None,
        l_max: int | None = None,
        seed: int = 0,
        **layer_options,
    ):
        super().__init__()
        options = S4Options.of(options, d_model=d_model, prenorm=prenorm, norm=norm, dropout=dropout, **layer_options)
        self.prenorm = options.prenorm
        self.layer = S4Layer(options.d_model, l_max=l_max, seed=seed, options=options)
        self.norm = nn.LayerNorm(options.d_model) if options.norm == "layer" else _BatchNormL(options.d_model)
        self.dropout = nn.Dropout(options.dropout)

    def forward(self, x: torch.Tensor, rate: float = 1.0, mask: torch.Tensor | None = None) -> torch.Tensor:
        """Apply the block; the input is not scanned for NaNs (S4Encoder checks its own input once).

        Parameters
        ----------
        x
            (B, L, H).
        rate
            Multiplies every Δ (S4 Sec. 4.3).
        mask
            (B, L) or None: 1 on valid positions; padded ones are kept out of the layer's convolution.

        Returns
        -------
        torch.Tensor
            (B, L, H).
        """
        if self.prenorm:
            return x + self.dropout(self.layer.unchecked_forward(self.norm(x), rate, mask))
        return self.norm(x + self.dropout(self.layer.unchecked_forward(x, rate, mask)))

    def step(self, x: torch.Tensor, state):
        """The block (S4 layer, residual, norm) one position at a time.

        Parameters
        ----------
        x
            (B, H): the input at one position.
        state
            The layer's state (:meth:`~s4forecast.nn.s4layer.S4Layer.default_state`).

        Returns
        -------
        tuple
            The output (B, H) and the new state.
        """
        if self.prenorm:
            y, state = self.layer.step(self.norm(x), state)
            return x + y, state
        y, state = self.layer.step(x, state)
        return self.norm(x + y), state


class S4Encoder(nn.Module):
    """Linear(d_input, d_model), then ``n_layers`` S4 blocks (and a final LayerNorm with prenorm).
    (B, L, d_input) -> (B, L, d_model).

    Parameters
    ----------
    d_input
        The input's feature size.
    d_model
        H, the blocks' width.
    n_layers
        The number of S4 blocks.
    prenorm, norm, dropout
        The blocks' (:class:`S4Block`).
    options
        An :class:`~s4forecast.nn.options.S4Options` that replaces every other option, handed down to
        every block and layer as it is.
    l_max
        The length the NPLR kernels are parametrised for (Sec. 3.3); None: C itself.
    seed
        Block ``i``'s layer gets HiPPO seed ``seed + i``.
    **layer_options
        Other :class:`~s4forecast.nn.options.S4Options` fields, the layers' (``d_state``, ``mode``,
        ``init``, ...); an unknown name is a TypeError that names it.
    """

    def __init__(
        self,
        d_input: int,
        d_model: int = DEFAULTS.d_model,
        n_layers: int = DEFAULTS.n_layers,
        prenorm: bool = DEFAULTS.prenorm,
        norm: str = DEFAULTS.norm,
        dropout: float = DEFAULTS.dropout,
        *,
        options: S4Options | None = None,
        l_max: int | None = None,
        seed: int = 0,
        **layer_options,
    ):
        super().__init__()
        options = S4Options.of(
            options, d_model=d_model, n_layers=n_layers, prenorm=prenorm, norm=norm, dropout=dropout, **layer_options
        )
        self.options = options
        self.d_input = d_input
        self.encoder = nn.Linear(d_input, options.d_model)
        self.blocks = nn.ModuleList(
            S4Block(options.d_model, options=options, l_max=l_max, seed=seed + i) for i in range(options.n_layers)
        )
        self.final_norm = nn.LayerNorm(options.d_model) if options.prenorm else nn.Identity()

    def forward(self, x: torch.Tensor, rate: float = 1.0, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """Encode a sequence (convolution view).

        Parameters
        ----------
        x
            (B, L, d_input) real, finite.
        rate
            Multiplies every Δ (S4 Sec. 4.3).
        lengths
            (B,) or None: x is right-padded and every layer's convolution reads only each sequence's
            first ``lengths[b]`` positions, so with bidirectional layers too the outputs there are the
            unpadded sequence's (batch norm's statistics excepted, which include padded positions in
            training).

        Returns
        -------
        torch.Tensor
            (B, L, d_model).
        """
        check_sequence(x, self.d_input, self.encoder.weight.dtype)
        check_rate(rate)
        mask = length_mask(lengths, x)
        x = self.encoder(x)
        for block in self.blocks:
            x = block(x, rate, mask)
        return self.final_norm(x)

    def setup_step(self, rate: float = 1.0) -> None:
        """Prepare every layer's recurrent view; needed before :meth:`step`.

        Parameters
        ----------
        rate
            Multiplies every Δ (S4 Sec. 4.3).
        """
        check_rate(rate)
        for block in self.blocks:
            block.layer.setup_step(rate)

    def default_state(self, batch_size: int) -> list[torch.Tensor]:
        """The zero state of :meth:`step`.

        Parameters
        ----------
        batch_size
            The number of sequences stepped together.

        Returns
        -------
        list of torch.Tensor
            One (batch_size, H, N_state) complex tensor per layer.
        """
        return [block.layer.default_state(batch_size) for block in self.blocks]

    def step(self, x_t: torch.Tensor, state: list[torch.Tensor]) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """:meth:`forward` one position at a time (the recurrent view, S4 eq. 3).

        Parameters
        ----------
        x_t
            (B, d_input): the input at one position.
        state
            One state per layer, as :meth:`default_state` or the previous step returned it.

        Returns
        -------
        tuple
            The output y_t (B, d_model) and the new state (list).
        """
        if not isinstance(state, (list, tuple)) or len(state) != len(self.blocks):
            got = f"{len(state)} states" if isinstance(state, (list, tuple)) else type(state).__name__
            raise ValueError(f"step: state must be a list of {len(self.blocks)} layer states (default_state); got {got}")
        if not isinstance(x_t, torch.Tensor) or x_t.dim() != 2 or x_t.shape[-1] != self.d_input:
            got = tuple(x_t.shape) if isinstance(x_t, torch.Tensor) else type(x_t).__name__
            raise ValueError(f"step: x_t must be a (batch, {self.d_input}) tensor; got {got}")
        x = self.encoder(x_t)
        new_state = []
        for block, s in zip(self.blocks, state):
            x, s = block.step(x, s)
            new_state.append(s)
        return self.final_norm(x), new_state
