"""``python -m widgets``: the ``neuralcanvas`` command."""

import sys

from widgets.cli import main

sys.exit(main())
