"""nnscratch — a multi-layer perceptron from scratch in NumPy, for Spotify track popularity."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("nnscratch")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"

__all__ = ["__version__"]
