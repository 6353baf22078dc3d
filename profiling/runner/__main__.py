import sys

from profiling.runner.cli import main

sys.exit(main())
