"""cnninspect: activation shapes and filters of convolutional networks, from the file alone."""

__version__ = "0.1.0"
