"""The hostile-submission corpus (`corpus.py`) and the host-side probes that judge each attack
(`probes.py`): one corpus for every backend."""
