"""Optional heavy dependencies of the analysis subpackage, imported only when an analysis runs."""

from __future__ import annotations

import importlib
from types import ModuleType


def require(module: str) -> ModuleType:
    """Import `module` or raise an ImportError that names the `data` extra that provides it."""
    try:
        return importlib.import_module(module)
    except ImportError as error:
        hint = (
            "scripts/install_python_deps_data.sh"
            if module.startswith("basic_pitch")
            else "pip install 'diffusers_s2acc[data]'"
        )
        raise ImportError(f"Music analysis needs `{module}`, part of the `data` extra: {hint}.") from error
