"""What S4Model's ``save`` and ``load`` add to Darts': a file written from the network itself where no
trainer holds it, and a named error for a file that is not a saved S4Model."""

from __future__ import annotations

import pytorch_lightning as pl
import torch
from darts.logging import raise_log
from darts.models.forecasting.torch_forecasting_model import TorchForecastingModel


def write_network_checkpoint(network: pl.LightningModule, path: str) -> None:
    """The checkpoint Darts would write through a trainer (weights, hyperparameters, Darts' own entries such as
    the dtype and the training sample's shape), written from ``network`` at ``path``.

    Parameters
    ----------
    network
        Darts' Lightning module.
    path
        The checkpoint file.
    """
    checkpoint = {
        "state_dict": network.state_dict(),
        "hyper_parameters": dict(network.hparams),
        "pytorch-lightning_version": pl.__version__,
    }
    network.on_save_checkpoint(checkpoint)  # Darts' entries
    torch.save(checkpoint, path)


def load_model(path, cls: type, *args, **kwargs) -> TorchForecastingModel:
    """Darts' ``load`` of ``path``, which must hold a ``cls``; any other file raises a ValueError that names
    it (Darts' own error for a corrupted file comes from deep inside its restricted unpickler).

    Parameters
    ----------
    path
        The saved model file.
    cls
        The model class it must hold.
    *args, **kwargs
        Darts' ``load`` arguments.

    Returns
    -------
    TorchForecastingModel
    """
    try:
        model = TorchForecastingModel.load(path, *args, **kwargs)
    except FileNotFoundError:
        raise
    except Exception as e:  # noqa: BLE001 - any unpickling failure means the same thing here
        raise_log(ValueError(f"{path} is not a readable saved model ({type(e).__name__}: {e})"))
    if not isinstance(model, cls):
        raise_log(ValueError(f"{path} holds a {type(model).__name__}, not an {cls.__name__}"))
    return model
