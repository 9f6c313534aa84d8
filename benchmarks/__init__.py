"""Speed and memory benchmarks of the numba engine, and the pure-Mesa reference model (see README.md)."""
