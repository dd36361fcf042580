"""Accuracy experiments (what a setting does to accuracy, and at what time cost), apart from the speed
benchmarks in ``benchmarks/``. Each module's docstring says what it measures and how to run it; results
go to ``experiments/results/<name>-<environment>.json`` through ``benchmarks.harness``."""
