"""Online forecasting with S4's recurrent view (S4 Sec. 3.1): O(N) per new observation.

An :class:`S4Stream` consumes a history once, then takes one observation at a time with
:meth:`S4Stream.update` and forecasts from its state with :meth:`S4Stream.forecast`, which steps
through the masked horizon exactly as the convolution does. Its context is the whole history seen so
far (the recurrent view's natural, unbounded context): for a history of exactly
``input_chunk_length`` steps its forecasts equal ``model.predict(n, series=history)``.
"""

from __future__ import annotations

import copy

import numpy as np
import torch
from darts import TimeSeries
from darts.utils.utils import generate_index

# The options a streamable S4Model needs where S4Model's defaults differ (``S4Model(L, H, **STREAMABLE)``):
# the recurrent view steps one observation at a time over the whole history, so no patches, no per-window
# normalisation (instance norm, last-value centring) and no linear map of a fixed-length window.
STREAMABLE = {"patch_len": 1, "use_reversible_instance_norm": False, "subtract_last": False, "linear_skip": False}
HINT = "; build a streamable model with S4Model(..., **s4forecast.forecasting.STREAMABLE)"


class S4Stream:
    """Stateful forecaster over one (possibly multivariate) series of a fitted S4Model (``S4Model.stream``).

    Parameters
    ----------
    model
        A fitted S4Model with the masked layout, per-step (``patch_len=1``), unidirectional, without
        reversible instance norm or last-value centring (``s4forecast.forecasting.STREAMABLE``).
    series
        The history the stream consumes first.

    Raises
    ------
    ValueError
        A model the recurrent view cannot run, naming what to change.
    """

    def __init__(self, model, series: TimeSeries):
        if model.layout != "masked":
            raise ValueError(
                f"stream() needs layout='masked' (the recurrent view of its decoder); this model has layout={model.layout!r}"
            )
        module = model.model
        if module is None:
            raise ValueError("S4Model.stream() needs a fitted model: call fit() first")
        if module.use_reversible_instance_norm:
            raise ValueError(
                "streaming needs use_reversible_instance_norm=False: reversible instance norm "
                "re-normalises every input window with its own statistics" + HINT
            )
        if module.subtract_last:
            raise ValueError("streaming needs subtract_last=False: it re-centres every input window on its own last value" + HINT)
        if module.skip is not None:
            raise ValueError("streaming needs linear_skip=False: the skip reads a fixed-length input window" + HINT)
        if module.patch_len > 1:
            raise ValueError(
                f"streaming needs patch_len=1: this model reads patches of {module.patch_len} steps, "
                "and the recurrent view steps one observation at a time" + HINT
            )
        if model.likelihood is not None:
            raise ValueError("streaming forecasts are point forecasts: fit the model without a likelihood")
        if model.uses_past_covariates or model.uses_future_covariates:
            raise ValueError("streaming supports target-only models; this model was fitted with covariates")
        if any(block.layer.bidirectional for block in module.encoder.blocks):
            raise ValueError("a bidirectional model reads the future and has no recurrent view")
        if series.n_components != module.target_dim:
            raise ValueError(f"the model forecasts {module.target_dim} components; the series has {series.n_components}")
        # a copy in eval mode: the model's own network (and Darts' shared default loss module inside it)
        # keeps its training mode, so a later fit() trains as before
        self.module = copy.deepcopy(module).eval()
        self.dtype = next(module.parameters()).dtype
        self.module.encoder.setup_step(float(module.rate))
        static = series.static_covariates_values(copy=False) if model.uses_static_covariates else None
        self.static = None if static is None else torch.as_tensor(static, dtype=self.dtype)[None]
        self.batch = module.target_dim if module.channel_independent else 1
        self.state = self.module.encoder.default_state(self.batch)
        self.freq, self.end = series.freq, series.start_time() - series.freq
        self.columns = series.components
        self.update(series)

    def _run(self, values: torch.Tensor, n_masked: int, state):
        """Step the encoder over T observed (1, T, C) values then n_masked masked steps; return
        (encoder outputs at the masked steps (B', n_masked, d_model), new state)."""
        x = self.module.sequence(values, n_masked, static_covariates=self.static)
        outputs = []
        for t in range(x.shape[1]):
            h, state = self.module.encoder.step(x[:, t], state)
            if t >= values.shape[1]:
                outputs.append(h)
        return (torch.stack(outputs, 1) if outputs else None), state

    @torch.no_grad()
    def update(self, new: TimeSeries | np.ndarray) -> None:
        """Consume new observations, O(N) per step.

        Parameters
        ----------
        new
            A TimeSeries that continues the stream (same frequency and components, starting one step after
            its end), or values (T, C), or (T,) for a one-component stream.
        """
        C = len(self.columns)
        if isinstance(new, TimeSeries):
            if new.freq != self.freq:
                raise ValueError(f"the new values have frequency {new.freq_str}; the stream's is {self.freq}")
            if new.n_components != C:
                raise ValueError(f"the new values have {new.n_components} components; the stream has {C}")
            if new.start_time() != self.end + self.freq:
                raise ValueError(f"the new values start at {new.start_time()}; the stream expects {self.end + self.freq}")
            values = new.values(copy=False)
        else:
            values = np.asarray(new, dtype=float)
            if values.ndim == 1 and C == 1:
                values = values[:, None]
            if values.ndim != 2 or values.shape[1] != C:
                raise ValueError(f"new values must have shape (steps, {C}){' or (steps,)' if C == 1 else ''}; got {values.shape}")
        if not np.isfinite(values).all():
            raise ValueError("the new values contain NaN/Inf")
        _, self.state = self._run(torch.as_tensor(values, dtype=self.dtype)[None], 0, self.state)
        self.end = self.end + len(values) * self.freq

    @torch.no_grad()
    def forecast(self, n: int) -> TimeSeries:
        """The next ``n`` steps; the stream's state is unchanged.

        Parameters
        ----------
        n
            Steps to forecast; chunks beyond ``output_chunk_length`` feed earlier forecasts back as
            observations, as Darts' auto-regressive ``predict`` does.

        Returns
        -------
        TimeSeries
        """
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise ValueError(f"n must be a positive integer number of steps; got {n!r}")
        m = self.module
        chunks, state, produced = [], self.state, 0
        while produced < n:
            empty = torch.zeros(1, 0, len(self.columns), dtype=self.dtype)
            h, _ = self._run(empty, m.output_chunk_shift + m.output_chunk_length, state)
            y = m.predictions(m.head(h[:, m.output_chunk_shift :]), 1)[0, :, :, 0]  # (output_chunk_length, C)
            chunks.append(y.numpy())
            produced += len(y)
            if produced < n:
                _, state = self._run(y[None], 0, state)
        index = generate_index(start=self.end + (m.output_chunk_shift + 1) * self.freq, length=n, freq=self.freq)
        return TimeSeries.from_times_and_values(index, np.concatenate(chunks)[:n], columns=self.columns)
