"""One experiment and grids of them: run configs and overrides, a run end to end (train, evaluate, write
its record), cross-domain tests, run-folder names, sweeps."""
