"""statpress: a static site generator for official statistics."""

__version__ = "0.1.0"
