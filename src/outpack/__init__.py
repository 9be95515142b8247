"""outpack: store, find and share reproducible analysis results."""

__version__ = "0.1.0"
