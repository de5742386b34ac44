"""A per-user daemon that keeps a warm grader for `grader check` (as dmypy or Gradle's do).

A student runs `grader check` dozens of times while working; one-shot, each run pays for
starting a sandbox cold (importing torch dominates). The first `grader check` starts the daemon
in the background and grades itself one-shot; later ones send the item id, the file's name and
bytes to it over a private Unix socket and print the report it sends back, exactly as one-shot
would. Anything wrong with the daemon sends the check down the one-shot path instead: the
daemon can make a check faster, never change its grade, output or exit code.

    protocol.py  frames, the hello (version, source digest) and the settings a check needs
    paths.py     the user's private folder: socket, pid, lock, log; the lock
    settings.py  GRADER_DAEMON, GRADER_DAEMON_IDLE_S
    client.py    ask, start (detached), stop, wait (standard library only)
    server.py    the daemon process: socket loop, uid check, idle exit
    warm.py      the warm grader: sandbox and pool kept open, the bank reloaded when it changes

Exceptions: `protocol.DaemonProblem` (the daemon cannot be used: not running, refused, cut off,
too slow), and its `client.NotRunning`; both mean "grade one-shot", never an error of the check.
"""
