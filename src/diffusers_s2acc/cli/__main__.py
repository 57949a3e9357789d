"""`python -m diffusers_s2acc.cli ...`: the same as the `s2acc` console script."""

import sys

from . import main


if __name__ == "__main__":
    sys.exit(main())
