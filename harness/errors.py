"""The one exception type the CLI turns into a single line and an exit code."""

# Exit codes, chosen so that `git bisect run` can use them directly.
EXIT_OK = 0
EXIT_BUG = 1        # a kernel bug was found where none was expected
EXIT_USAGE = 2      # bad input: not a kernel tree, bad patch, missing tool...
EXIT_SKIP = 125     # the kernel could not be built or booted: bisect skips


class HarnessError(Exception):
    """A problem the user can fix; ``str(err)`` is the whole message."""

    def __init__(self, message: str, exit_code: int = EXIT_USAGE):
        super().__init__(message)
        self.exit_code = exit_code


class InfraError(HarnessError):
    """The kernel could not be built or booted (bisect: skip)."""

    def __init__(self, message: str):
        super().__init__(message, EXIT_SKIP)
