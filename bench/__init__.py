"""Hallmark's benchmarks: each subpackage measures one component and prints the same table every run."""
