"""Gradescope: `autograder.py` is what `gradescope/run_autograder` calls; `results.py` writes
Gradescope's results.json from a Report."""
