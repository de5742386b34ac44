"""What both backends' warm paths share: the pool of pre-started instances and the in-place
program runner (`program.py`, which runs inside the sandbox with the standard library only)."""
