"""Tools for the people who run the grader: the bank's self-test, the benchmark (and its
in-process floor) and the hostile-corpus figures."""
