"""Helpers only the tests use (the operator tools the tests share live in grader/ops/)."""
