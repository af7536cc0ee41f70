"""The one exception type a build stops with."""


class BuildError(Exception):
    """Bad input or a broken rule: the message names the file, the field or line, and what was expected."""
