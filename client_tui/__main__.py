"""`python -m client_tui`: the same as the `warung` command."""

import sys

from client_tui.cli import main

sys.exit(main())
