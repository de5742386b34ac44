"""Grading: `Grader.grade(item, answer) -> Report`, and the per-kind judges it dispatches to.

grader.py     Grader: the one entry point (CLI, Gradescope, service, workers, selftest, bench)
code.py       code exercises: run the probe plan, judge observations against the reference
checks.py     one evaluator per kind of expectation
reference.py  expected values from the reference solution, cached, seeded per installation
answers.py    mcq and numeric answers (no sandbox)
predict.py    predict items: the key is what the snippet prints
snippets.py   run an author's snippet, cached by content
submission.py a student's .py or .ipynb as source
"""

from grader.grading.grader import Answer, Grader

__all__ = ["Answer", "Grader"]
