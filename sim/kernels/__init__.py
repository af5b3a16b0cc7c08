"""Pure numeric kernels: arrays in, arrays out.

Nothing here touches SimPy, xarray, YAML, files, logging or random-number
creation; random draws are passed in by the caller.
"""
