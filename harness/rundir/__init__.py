"""The run directory: the records that cross between stages, and the one module that reads and writes each file."""
