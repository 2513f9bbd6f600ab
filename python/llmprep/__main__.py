"""``python -m llmprep`` runs the command line."""

import sys

from llmprep.cli import main

sys.exit(main())
