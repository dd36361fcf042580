"""Speed benchmarks (``make bench``; ``benchmarks/run_all.py``): each ``bench_*.py`` module times one part
of fer3d and writes ``benchmarks/results/<name>-<environment>.json`` through ``benchmarks.harness``."""
