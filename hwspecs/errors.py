"""The error a user gets for a bad spec: one sentence naming the file and the field."""


class SpecError(ValueError):
    def __init__(self, path: str, field: str, problem: str) -> None:
        self.path, self.field, self.problem = path, field, problem
        where = f"field '{field}'" if field else "the file"
        super().__init__(_one_line(f"{path}: {where}: {problem}"))


def _one_line(text: str) -> str:
    """Escape line breaks and other unprintable characters (say, in a mistyped key)."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
