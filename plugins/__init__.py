"""The paper plugins shipped with reid-bench, one sub-package each, declared as entry points."""
