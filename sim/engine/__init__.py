"""The SimPy calendar and the batched state."""
