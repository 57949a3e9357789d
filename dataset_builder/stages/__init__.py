"""Pipeline stages, each behind a small interface with an offline default and optional model backends."""

from diffusers_s2acc.devices import default_device


__all__ = ["default_device"]
