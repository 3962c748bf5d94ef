"""``python -m docretriever`` runs the command line."""

import sys

from docretriever.cli import main

sys.exit(main())
