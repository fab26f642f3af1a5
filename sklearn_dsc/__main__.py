"""``python -m sklearn_dsc``: the ``sklearn-dsc`` command line."""

import sys

from .cli import main

sys.exit(main())
