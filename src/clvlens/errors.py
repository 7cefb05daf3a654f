"""The one exception type every layer raises for bad input or an impossible request.

Its message is a single line naming the file, row or field at fault, so that the CLI can print it as is. It is a
``ValueError``, so code written for lifetimes or PyMC-Marketing (``except ValueError``) still catches it.
"""


class ClvlensError(ValueError):
    """A user-facing error: one line, naming what is wrong and where (a ``ValueError``)."""

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(str(message).split()))


class ClvlensWarning(UserWarning):
    """A result that holds but rests on an assumption the data question (one line, like the errors)."""
