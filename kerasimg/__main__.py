"""``python -m kerasimg``: the same as the ``kerasimg`` command."""

import sys

from kerasimg.cli import main

if __name__ == "__main__":
    sys.exit(main())
