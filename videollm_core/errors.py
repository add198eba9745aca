"""User-facing errors.

Every mistake a user can make (a bad YAML, an unknown `type`, a missing file, a
broken plugin in strict mode, a wrong tensor shape from a dataset) raises a
[`UserError`][videollm_core.errors.UserError]. The CLI prints its message, without a traceback unless
`--debug`, and exits with `EXIT_USER_ERROR`.
"""
from __future__ import annotations

EXIT_USER_ERROR = 2


class UserError(Exception):
    """An error the user can fix. `where` names the place (file, YAML path, plugin)."""

    def __init__(self, message: str, *, where: str | None = None, hint: str | None = None):
        self.message = message
        self.where = where
        self.hint = hint
        super().__init__(self.render())

    def render(self) -> str:
        text = f"{self.where}: {self.message}" if self.where else self.message
        if self.hint:
            text += f"\n  hint: {self.hint}"
        return text

    def relocate(self, where: str) -> "UserError":
        """Set `where` (e.g. a constructor's own name replaced by the YAML path) and return self."""
        self.where = where
        self.args = (self.render(),)
        return self


class ConfigError(UserError):
    """A problem in a config file; `where` is the file and/or the YAML path."""


class RegistryError(UserError):
    """Unknown or clashing component name, or a class of the wrong role."""


class PluginError(UserError):
    """A plugin failed to load or to register (fatal only in strict mode)."""


class DataError(UserError):
    """A dataset file is missing, truncated or inconsistent; `where` names the file and row."""


class PathError(UserError):
    """A file or folder cannot be used as needed: missing, the wrong kind, unreadable,
    unwritable, or its disk is full; `where` names the path (see `videollm_core.paths`)."""


class ConfigErrors(ConfigError):
    """Several config problems found in one validation pass, reported together."""

    def __init__(self, errors: list[ConfigError]):
        self.errors = list(errors)
        lines = [e.render() for e in self.errors]
        head = f"{len(lines)} problem(s) in the config:"
        super().__init__(head + "\n" + "\n".join("- " + line.replace("\n", "\n  ") for line in lines))
