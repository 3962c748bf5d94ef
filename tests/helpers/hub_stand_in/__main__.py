"""By hand: ``python tests/helpers/hub_stand_in ...``, or from tests/, ``python -m helpers.hub_stand_in``."""

import sys
from pathlib import Path

if not __package__:
    # Run as a folder, Python put this folder first on sys.path: put tests/ there instead, so that the
    # package imports as helpers.hub_stand_in, as in the tests, and its module names shadow nothing.
    sys.path[0] = str(Path(__file__).resolve().parents[2])

from helpers.hub_stand_in.cli import main

raise SystemExit(main())
