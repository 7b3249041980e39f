"""``python -m nnscratch`` runs the command line."""

import sys

from nnscratch.app.cli.main import main

sys.exit(main())
