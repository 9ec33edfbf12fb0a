"""S4Classifier: an S4 encoder with a pooling decoder, as a Lightning module (S4 paper Sec. 4.2-4.3).

Batches are ``(x, y)`` or ``(x, y, lengths)``: x (B, L, d_input) float, or (B, L) int64 token ids
when ``vocab_size`` is set; lengths (B,) for padded sequences; with ``dual`` (retrieval), x (B, 2, L)
and lengths (B, 2). Output logits (B, n_classes).
"""

from __future__ import annotations

import dataclasses

import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from torch import nn
from torchmetrics.classification import MulticlassAccuracy

from s4forecast.nn import S4Encoder, S4Options
from s4forecast.nn.options import DEFAULTS as S4_DEFAULTS
from s4forecast.optim import check_optimiser_numbers, param_groups, with_fused

POOLINGS = ("mean", "last", "length-mean")
SCHEDULES = (None, "cosine", "plateau")
# S4's defaults (nn/options.py), with the dropout that the paper's classifiers train with (App. D.2)
DEFAULTS = dataclasses.replace(S4_DEFAULTS, dropout=0.1)


def pool(h: torch.Tensor, how: str, lengths: torch.Tensor | None = None) -> torch.Tensor:
    """(B, L, H) -> (B, H). ``length-mean`` averages the first ``lengths[b]`` positions only and
    ``last`` takes position ``lengths[b] - 1``, so right-padding changes nothing (with an encoder given the
    lengths, bidirectional too).

    Parameters
    ----------
    h
        (B, L, H).
    how
        ``mean``, ``length-mean`` or ``last``.
    lengths
        (B,) valid lengths, or None (all L).

    Returns
    -------
    torch.Tensor
        (B, H).
    """
    if how == "mean":
        return h.mean(1)
    if lengths is None:
        lengths = torch.full((h.shape[0],), h.shape[1], device=h.device)
    if how == "last":
        return h[torch.arange(h.shape[0], device=h.device), lengths - 1]
    mask = (torch.arange(h.shape[1], device=h.device)[None] < lengths[:, None]).to(h.dtype)
    return (h * mask[..., None]).sum(1) / lengths[:, None].to(h.dtype)


class S4Classifier(pl.LightningModule):
    """A sequence classifier (Lightning): an S4 encoder, pooling over positions, a linear decoder (S4 Sec. 4.2:
    sequential images, Long Range Arena). Trained with AdamW, SSM parameters at their own rate without weight
    decay (:func:`~s4forecast.optim.param_groups`), cross-entropy loss, accuracy logged per stage.

    Parameters
    ----------
    d_input
        The input's feature size (the embedding size with ``vocab_size``).
    n_classes
        The number of classes.
    d_model, n_layers, d_state, mode, init, discretization, rank, dropout, prenorm, norm, bidirectional, dt_min, dt_max, backend, convolution, activation, postact
        The encoder's :class:`~s4forecast.nn.options.S4Options`.
    l_max
        The length the NPLR kernels are parametrised for (Sec. 3.3); None: C itself.
    vocab_size
        Token inputs (ids in [0, vocab_size), 0 the padding) embedded to ``d_input``; None: float inputs.
    pooling
        ``mean`` over all positions, ``length-mean`` over each sequence's valid ones, or ``last`` valid
        position.
    lr, weight_decay
        AdamW's, for every parameter outside the SSMs.
    ssm_lr
        The SSM parameters' learning rate (no weight decay); None: ``lr``.
    schedule
        ``cosine`` over the trainer's epochs, ``plateau`` (halve after 2 epochs without a lower val loss),
        or None.
    dual
        Two documents a row through the same encoder, classified from [u, v, u*v, u-v] (LRA Retrieval).

    Raises
    ------
    ValueError
        An option out of its range, naming it and what is valid.
    """

    def __init__(
        self,
        d_input: int,
        n_classes: int,
        d_model: int = DEFAULTS.d_model,
        n_layers: int = DEFAULTS.n_layers,
        d_state: int = DEFAULTS.d_state,
        l_max: int | None = None,
        vocab_size: int | None = None,
        pooling: str = "mean",
        mode: str = DEFAULTS.mode,
        init: str = DEFAULTS.init,
        discretization: str = DEFAULTS.discretization,
        rank: int = DEFAULTS.rank,
        dropout: float = DEFAULTS.dropout,
        prenorm: bool = DEFAULTS.prenorm,
        norm: str = DEFAULTS.norm,
        bidirectional: bool = DEFAULTS.bidirectional,
        dt_min: float = DEFAULTS.dt_min,
        dt_max: float = DEFAULTS.dt_max,
        lr: float = 4e-3,
        ssm_lr: float | None = 1e-3,
        weight_decay: float = 0.01,
        schedule: str | None = "cosine",
        dual: bool = False,
        backend: str = DEFAULTS.backend,
        convolution: str = DEFAULTS.convolution,
        activation: str = DEFAULTS.activation,
        postact: str = DEFAULTS.postact,
    ):
        super().__init__()
        if pooling not in POOLINGS:
            raise ValueError(f"unknown pooling {pooling!r}; valid: {', '.join(POOLINGS)}")
        if schedule not in SCHEDULES:
            raise ValueError(f"unknown schedule {schedule!r}; valid: cosine, plateau or None")
        check_optimiser_numbers(lr, weight_decay, ssm_lr)
        self.save_hyperparameters()
        self.embed = nn.Embedding(vocab_size, d_input, padding_idx=0) if vocab_size else None
        options = S4Options.pick(self.hparams)  # validated once, naming the option
        self.encoder = S4Encoder(d_input, options=options, l_max=l_max)
        # Retrieval (LRA): both documents through the same encoder, then the LRA dual-encoder head
        # on [u, v, u*v, u-v].
        self.decoder = (
            nn.Sequential(nn.Linear(4 * d_model, d_model), nn.ReLU(), nn.Linear(d_model, n_classes))
            if dual
            else nn.Linear(d_model, n_classes)
        )
        self.metrics = nn.ModuleDict({s: MulticlassAccuracy(n_classes, average="micro") for s in ("train_", "val_", "test_")})

    def check_inputs(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> None:
        """Refuse inputs the model cannot read, naming what is wrong (not a torch error frames down).

        Parameters
        ----------
        x
            What ``forward`` was given.
        lengths
            Its lengths, or None.
        """
        hp = self.hparams
        if not isinstance(x, torch.Tensor):
            raise ValueError(f"inputs must be a tensor; got {type(x).__name__}")
        if self.embed is not None:
            if x.is_floating_point() or x.is_complex():
                raise ValueError(f"inputs must be token ids (integers) for vocab_size={hp.vocab_size}; got {x.dtype}")
            if x.dim() != (3 if hp.dual else 2) or (hp.dual and x.shape[1] != 2):
                want = "(batch, 2, length): two documents a row (dual=True)" if hp.dual else "(batch, length)"
                raise ValueError(f"token ids must be {want}; got shape {tuple(x.shape)}")
            if x.numel() and (int(x.min()) < 0 or int(x.max()) >= hp.vocab_size):
                raise ValueError(f"token ids must lie in [0, vocab_size={hp.vocab_size}); got {int(x.min())}..{int(x.max())}")
        elif x.dim() != 3 or x.shape[-1] != hp.d_input or not x.is_floating_point():
            raise ValueError(
                f"inputs must be a float tensor (batch, length, d_input={hp.d_input}); got {tuple(x.shape)} {x.dtype}"
            )
        if lengths is not None and tuple(lengths.shape) != tuple(x.shape[: (2 if hp.dual else 1)]):
            raise ValueError(f"lengths must be shaped {tuple(x.shape[: (2 if hp.dual else 1)])}; got {tuple(lengths.shape)}")

    def check_labels(self, y: torch.Tensor, batch: int) -> None:
        """Labels are class indices (B,) in [0, n_classes).

        Parameters
        ----------
        y
            The labels.
        batch
            The batch size they must match.
        """
        n = self.hparams.n_classes
        if not isinstance(y, torch.Tensor) or y.is_floating_point() or y.is_complex() or y.dtype == torch.bool:
            got = y.dtype if isinstance(y, torch.Tensor) else type(y).__name__
            raise ValueError(f"labels must be class indices (integers), not {got}; one-hot labels: pass y.argmax(-1)")
        if tuple(y.shape) != (batch,):
            raise ValueError(f"labels must be shaped (batch,) = ({batch},); got {tuple(y.shape)}")
        if y.numel() and (int(y.min()) < 0 or int(y.max()) >= n):
            raise ValueError(f"labels must lie in [0, n_classes={n}); got {int(y.min())}..{int(y.max())}")

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """Class logits of a batch of sequences.

        Parameters
        ----------
        x
            (B, L, d_input) floats, or token ids (B, L) with ``vocab_size``; with ``dual``, (B, 2, L) token ids.
        lengths
            (B,) valid lengths of right-padded x ((B, 2) with ``dual``), or None.

        Returns
        -------
        torch.Tensor
            (B, n_classes) logits.
        """
        self.check_inputs(x, lengths)
        if not self.hparams.dual:
            return self.decoder(self._encode(x, lengths))
        B = x.shape[0]
        h = self._encode(x.flatten(0, 1), None if lengths is None else lengths.flatten()).view(B, 2, -1)
        u, v = h[:, 0], h[:, 1]
        return self.decoder(torch.cat([u, v, u * v, u - v], -1))

    def _encode(self, x: torch.Tensor, lengths: torch.Tensor | None) -> torch.Tensor:
        if self.embed is not None:
            x = self.embed(x)
        return pool(self.encoder(x, lengths=lengths), self.hparams.pooling, lengths)

    def _step(self, batch, stage: str):
        x, y, *rest = batch
        self.check_labels(y, x.shape[0])
        logits = self(x, rest[0] if rest else None)
        loss = F.cross_entropy(logits, y)
        acc = self.metrics[stage + "_"]
        acc(logits, y)
        # the epoch's loss averaged over DDP processes too (the accuracy metric syncs itself)
        self.log(f"{stage}_loss", loss, prog_bar=True, on_epoch=True, on_step=stage == "train", sync_dist=stage != "train")
        self.log(f"{stage}_acc", acc, prog_bar=True, on_epoch=True, on_step=False)
        return loss

    def training_step(self, batch, batch_idx):
        return self._step(batch, "train")

    def validation_step(self, batch, batch_idx):
        self._step(batch, "val")

    def test_step(self, batch, batch_idx):
        self._step(batch, "test")

    def configure_optimizers(self):
        hp = self.hparams
        groups = param_groups(self, hp.lr, hp.weight_decay, hp.ssm_lr)
        optimizer = torch.optim.AdamW(groups, **with_fused(torch.optim.AdamW, groups, {}))
        if hp.schedule == "cosine":
            return [optimizer], [torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(self.trainer.max_epochs, 1))]
        if hp.schedule == "plateau":
            scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, factor=0.5, patience=2)
            return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "monitor": "val_loss"}}
        return optimizer
