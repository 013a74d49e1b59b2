"""The error a user gets for a bad spec: one sentence naming the file and the field."""


class SpecError(ValueError):
    def __init__(self, path: str, field: str, problem: str) -> None:
        self.path, self.field, self.problem = path, field, problem
        where = f"field '{field}'" if field else "the file"
        super().__init__(f"{path}: {where}: {problem}")
