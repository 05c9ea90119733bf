"""Benchmarks: scripts that print numbers (a package, so `bench` here wins over any installed one)."""
