"""`python -m grader.cli`: the `grader` command."""

import sys

from grader.cli.app import main

sys.exit(main())
