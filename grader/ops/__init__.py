"""Tools for the people who run the grader: the bank's self-test, the benchmark (and its
in-process floor), the hostile-corpus figures, and `loopback.py`: a course server, Redis and
Celery workers on 127.0.0.1 for the load scripts and the real-process tests."""
