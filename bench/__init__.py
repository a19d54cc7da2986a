"""Amanat benchmarks: `python -m bench [signin|pages|all] [--db sqlite|postgres|both]`.

Each benchmark is a module in this package registered in `bench.registry`. The harness builds a
throw-away instance (own secret key, own database, real migrations) per database, lets every
selected benchmark seed what it needs through the services, starts gunicorn only if a benchmark
asks for it, and prints one table per benchmark. Results: bench/RESULTS.md.
"""
