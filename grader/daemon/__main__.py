"""`python -m grader.daemon`: the daemon process, as `grader check` starts it."""

import sys

from grader.daemon.server import main

sys.exit(main())
