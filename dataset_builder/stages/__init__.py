"""Pipeline stages, each behind a small interface with an offline default and optional model backends."""
