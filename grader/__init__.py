"""The judge and everything users touch: the bank, checks, grading, the CLI and the service."""
