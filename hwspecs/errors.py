"""The errors a user gets: one sentence naming the input (the file, the field, the flag).

`ArchsimError` is the base of every user error archsim raises; it is a `ValueError`, so code
that catches ValueError keeps working. `USER_ERRORS` is what each face (the CLI's `main`, the
app's `state.user_errors`) turns into one line; anything else is a bug in archsim.
"""


class ArchsimError(ValueError):
    """A user error: the message is one sentence naming the input."""


class SpecError(ArchsimError):
    def __init__(self, path: str, field: str, problem: str) -> None:
        self.path, self.field, self.problem = path, field, problem
        where = f"field '{_clip(field)}'" if field else "the file"
        super().__init__(_one_line(f"{path}: {where}: {problem}"))


class ConfigError(ArchsimError):
    """A model config that cannot describe the model it names (a missing or bad field)."""


class InputError(ArchsimError):
    """A command-line flag, app input or input file out of range (the message names it)."""


class ArchsimWarning(UserWarning):
    """Something a user should know about a result that is still computed (one sentence);
    each face shows it beside the result."""


class PositionWarning(ArchsimWarning):
    """A sequence longer than the positions a rotary or ALiBi model was trained on."""


# Errors of the standard library a user's input can cause (a bad number, an unknown name, a
# file that cannot be read): they carry one sentence too.
USER_ERRORS = (ArchsimError, ValueError, LookupError, OSError)


def message_of(exc: BaseException) -> str:
    """The one sentence a user error carries (a LookupError's str() adds quotes)."""
    if isinstance(exc, LookupError) and exc.args:
        text = str(exc.args[0])
    elif isinstance(exc, OSError) and exc.strerror and exc.filename:
        text = f"{exc.filename}: {exc.strerror}"
    else:
        text = str(exc).strip() or type(exc).__name__
    if not isinstance(exc, ArchsimError):     # say, a library's message over several lines
        text = text.splitlines()[0]
    return _one_line(text)


def describe(exc: BaseException) -> tuple[str, bool]:
    """(one sentence for the user, whether it is the user's error rather than archsim's).

    What each face prints for an error that reached it: a user error's own sentence; input
    too deep or too large for this machine; anything else as an internal error."""
    if isinstance(exc, KeyError) and not isinstance(exc, ArchsimError):
        pass                        # a missing key is archsim's own slip, not a user's input
    elif isinstance(exc, USER_ERRORS):
        return message_of(exc), True
    if isinstance(exc, RecursionError):
        return "the input nests too deeply to be read; flatten it", True
    if isinstance(exc, MemoryError):
        return "out of memory: the input asks for more than this machine holds; make it " \
               "smaller", True
    if isinstance(exc, OverflowError):
        return f"a number in the input is too large ({message_of(exc)})", True
    return (f"internal error ({type(exc).__name__}: {message_of(exc)}); this is a bug in "
            "archsim, please report it with the input that caused it"), False


def _clip(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _one_line(text: str) -> str:
    """Escape line breaks and other unprintable characters (say, in a mistyped key)."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
