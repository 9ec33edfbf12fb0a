"""Sequence classification with S4: the Lightning classifier and the paper's tasks' data."""

from s4forecast.classification.model import S4Classifier

__all__ = ["S4Classifier"]
