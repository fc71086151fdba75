"""parity: an open what-if engine for AI compute."""

__version__ = "0.1.0"
