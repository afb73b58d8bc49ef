"""Read ``environments/*.yaml`` into frozen ``EnvironmentConfig`` objects, or fail clearly.

Every failure, whatever its cause (YAML syntax, typo, wrong type, a rule of the
schema, an unknown environment name), becomes one ``ConfigError`` whose lines
each name the file, the field path, the value received and what is allowed.
Nothing here imports cdktf, so bad input is reported in well under a second and
before anything could be written to ``cdktf.out``.
"""

from __future__ import annotations

import difflib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Optional, Sequence

import yaml
from pydantic import BaseModel, ValidationError

from environments.schema import EnvironmentConfig

ENVIRONMENTS_DIR = Path(__file__).resolve().parent
SELECT_ENV_VAR = "SPOFLESS_ENVS"
_MISSING = object()


@dataclass(frozen=True)
class Problem:
    """One thing wrong with one file."""

    file: str
    field: str
    message: str
    value: Any = _MISSING

    def __str__(self) -> str:
        where = f"{self.file}: {self.field}" if self.field else self.file
        if self.value is _MISSING:
            return f"{where}: {self.message}"
        return f"{where}: {self.value!r} {self.message}"


class ConfigError(Exception):
    """Invalid environment input; ``str()`` is the message to show the user."""

    def __init__(self, problems: Sequence[Problem]):
        self.problems = tuple(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


def _display_path(path: Path) -> str:
    try:
        return os.path.relpath(path)
    except ValueError:  # another drive on Windows
        return str(path)


def _model_at(model: type[BaseModel], loc: Sequence[Any]) -> Optional[type[BaseModel]]:
    """The model class that owns the field at ``loc`` (for listing allowed fields)."""
    current: Any = model
    for part in loc:
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return None
        field = current.model_fields.get(str(part))
        if field is None:
            return None
        current = _unwrap(field.annotation)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _unwrap(annotation: Any) -> Any:
    """``Optional[X]`` -> ``X``; anything else unchanged."""
    for arg in getattr(annotation, "__args__", ()) or ():
        if isinstance(arg, type) and issubclass(arg, BaseModel):
            return arg
    return annotation


def _problem(file: str, error: dict) -> Problem:
    loc = [str(part) for part in error["loc"]]
    context = error.get("ctx") or {}
    kind = error["type"]
    if kind == "extra_forbidden":
        parent = _model_at(EnvironmentConfig, loc[:-1])
        allowed = sorted(parent.model_fields) if parent else []
        hint = difflib.get_close_matches(loc[-1], allowed, n=1)
        message = "unknown field" + (f" (did you mean '{hint[0]}'?)" if hint else "")
        message += f"; allowed: {', '.join(allowed)}" if allowed else ""
        return Problem(file, ".".join(loc), message)
    if kind == "missing":
        return Problem(file, ".".join(loc), "is required")
    if "field" in context:
        loc.append(str(context["field"]))
    value = context.get("value", error.get("input", _MISSING))
    message = error["msg"]
    prefix = "Input should be "
    if message.startswith(prefix):
        allowed = message[len(prefix):]
        if kind.endswith(("_type", "_parsing")):
            message = f"has the wrong type; allowed: {allowed}"
        elif kind == "literal_error":
            message = f"is not allowed; allowed: {allowed}"
        else:
            message = f"is out of range; allowed: {allowed}"
    return Problem(file, ".".join(loc), message, value)


def available(directory: Path = ENVIRONMENTS_DIR) -> list[str]:
    """Names of the environments that have a YAML file, sorted."""
    return sorted(p.stem for p in directory.glob("*.yaml"))


def load_file(path: Path) -> EnvironmentConfig:
    """Parse and validate one environment file."""
    shown = _display_path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([Problem(shown, "", f"cannot be read: {exc.strerror}")]) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "somewhere"
        reason = getattr(exc, "problem", None) or str(exc)
        raise ConfigError([Problem(shown, "", f"is not valid YAML at {where}: {reason}")]) from None
    if not isinstance(data, dict):
        raise ConfigError([Problem(shown, "", "must be a YAML mapping of fields (name, regions, "
                                              "domain, ...); allowed: see environments/schema.py",
                                   type(data).__name__)])
    try:
        config = EnvironmentConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError([_problem(shown, e) for e in exc.errors()]) from None
    if config.name != path.stem:
        raise ConfigError([Problem(shown, "name", f"must equal the file name; allowed: '{path.stem}'",
                                   config.name)])
    return config


def selected_names(requested: Optional[Iterable[str]] = None) -> Optional[list[str]]:
    """Environment names asked for by argument or ``SPOFLESS_ENVS`` (comma-separated); None = all."""
    if requested is None:
        raw = os.environ.get(SELECT_ENV_VAR, "")
        requested = [part for part in raw.replace(" ", ",").split(",") if part]
    names = list(dict.fromkeys(requested))
    return names or None


def load_environments(names: Optional[Iterable[str]] = None,
                      directory: Path = ENVIRONMENTS_DIR) -> list[EnvironmentConfig]:
    """Load the named environments (all when None), validating every one before returning.

    Raises ConfigError listing every problem in every selected file, so one run
    shows everything that needs fixing.
    """
    known = available(directory)
    wanted = list(names) if names is not None else known
    problems: list[Problem] = []
    for name in wanted:
        if name not in known:
            problems.append(Problem(SELECT_ENV_VAR, "", f"environment does not exist; allowed: "
                                                        f"{', '.join(known) or 'none found'}", name))
    if not wanted:
        problems.append(Problem(_display_path(directory), "", "holds no <env>.yaml file"))
    if problems:
        raise ConfigError(problems)
    configs = []
    for name in wanted:
        try:
            configs.append(load_file(directory / f"{name}.yaml"))
        except ConfigError as exc:
            problems.extend(exc.problems)
    if problems:
        raise ConfigError(problems)
    return configs
