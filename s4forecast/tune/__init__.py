"""Optuna sweeps over S4's state size N, step sizes Δ and HiPPO variant (and the usual training knobs)."""
