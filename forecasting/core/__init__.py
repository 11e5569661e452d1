"""The bottom layer: constants and numerics every other layer shares (no pandas panels, no models).

Each helper is defined once here so the models, the backtest, ``auto`` and the
benchmark scripts compute scales, MASE, intervals and exogenous alignment the
same way.
"""
