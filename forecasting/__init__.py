"""Forecast monthly cross-border trade flows."""

__version__ = "0.1.0"
