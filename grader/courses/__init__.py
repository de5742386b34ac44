"""Graded courses: assignments (`catalog.py` reads them) and their rules (`rules.py`: the window,
late penalties, scaled scores, what a report may reveal). The course server enforces them."""
