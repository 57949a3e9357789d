"""S2Accompanist Space: `python spaces/app.py [--pipeline NAME] [--port 7860]` (also `s2acc space`).

The app itself is `diffusers_s2acc.space` (tested with the package). This file is what a Hugging Face Space runs:
it finds the package (installed, bundled next to this file by scripts/bundle_space.sh, or in the clone around it)
and serves the pipeline named by `--pipeline`, else `$S2ACC_SPACE_PIPELINE`, else the shipped default `s2acc-demo`.
"""

import os
import sys
from pathlib import Path


# Nothing here downloads: the default pipeline and the text encoder are local files.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

try:
    import diffusers_s2acc  # noqa: F401
except ImportError:
    # Not installed: use the package source bundled with the Space (src/) or of the clone this file sits in (../src).
    here = Path(__file__).resolve().parent
    for candidate in (here / "src", here.parent / "src"):
        if (candidate / "diffusers_s2acc" / "__init__.py").is_file():
            sys.path.insert(0, str(candidate))
            break

from diffusers_s2acc.space.app import main  # noqa: E402


if __name__ == "__main__":
    sys.exit(main())
