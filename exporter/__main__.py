"""`python -m exporter` runs the same command as `ml-monitoring-exporter`."""

import sys

from exporter.cli import main

sys.exit(main())
