import sys

from smartcat.cli import main

sys.exit(main())
