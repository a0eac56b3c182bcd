"""What pydantic says about a configuration, in words for people: each problem named by its
key (or by the environment variable that set it), the value as it was given, and a
suggestion for a misspelt key."""

from __future__ import annotations

import os
from typing import Any

from ftpbridge.settings.partners import PartnerSettings
from ftpbridge.settings.root import ENV_PREFIX, Settings
from ftpbridge.wording import quoted

# What pydantic says (``error["type"]``), as a person would say it.
_TYPE_WORDS = {
    "tuple_type": 'must be a list, e.g. ["ACME-*", "55*"]',
    "list_type": 'must be a list, e.g. ["ACME-*", "55*"]',
    "bool_type": "must be true or false (no quotes)",
    "bool_parsing": "must be true or false (no quotes)",
    "int_type": "must be a whole number (no quotes)",
    "int_parsing": "must be a whole number (no quotes)",
    "int_from_float": "must be a whole number (no quotes)",
    "float_type": "must be a number (no quotes)",
    "float_parsing": "must be a number (no quotes)",
    "string_type": "must be text in quotes",
    "path_type": "must be a path in quotes",
    "dict_type": "must be a table ([section] or { key = value })",
    "model_type": "must be a table ([section] or { key = value })",
    "model_attributes_type": "must be a table ([section] or { key = value })",
    "missing": "is required",
}
_BOUNDS = {
    "greater_than_equal": ("ge", "must be at least {}"),
    "greater_than": ("gt", "must be more than {}"),
    "less_than_equal": ("le", "must be at most {}"),
    "less_than": ("lt", "must be less than {}"),
}


def _environment_keys() -> dict[tuple[str, ...], str]:
    """The config keys the environment overrides (lower case) → the variable's name."""
    keys = {}
    for name in os.environ:
        if name.upper().startswith(ENV_PREFIX) and name.upper() != "FTPBRIDGE_CONFIG":
            path = tuple(part.lower() for part in name[len(ENV_PREFIX) :].split("__"))
            keys[path] = name
    return keys


def _describe(error: Any, overrides: dict[tuple[str, ...], str] | None = None) -> str:
    """One problem, named by its key (or by the environment variable that set it), in
    words for people: no pydantic wording, the value as it was given."""
    parts = tuple(str(part) for part in error["loc"])
    location = ".".join(parts) or "(top level)"
    from_environment = False
    for length in range(len(parts), 0, -1):
        variable = (overrides or {}).get(tuple(part.lower() for part in parts[:length]))
        if variable is not None:
            location = f"{variable} (environment variable, for {location})"
            from_environment = True
            break
    kind = error["type"]
    if kind == "extra_forbidden":
        return f"{location}: unknown key{_suggestion(parts)}"
    context = error.get("ctx") or {}
    if kind in _TYPE_WORDS:
        message = _TYPE_WORDS[kind]
    elif kind in _BOUNDS:
        key, words = _BOUNDS[kind]
        bound = context.get(key)
        if isinstance(bound, float) and bound.is_integer():
            bound = int(bound)
        message = words.format(bound)
    elif kind == "literal_error":
        message = f"must be {context.get('expected', 'one of the values listed in the example')}"
    else:
        message = str(error["msg"])
        if message.startswith("Value error, "):
            message = message[len("Value error, ") :]
        message = message.replace("Input should be", "must be")
    if from_environment:
        message = message.replace(" (no quotes)", "").replace(" in quotes", "")
    given = error.get("input")
    if (
        kind != "missing"
        and isinstance(given, str | int | float | bool)
        and "Value error" not in (error["msg"])
    ):
        shown = str(given).lower() if isinstance(given, bool) else given
        message += f" (it is {quoted(shown)})"
    return f"{location}: {message}"


def _suggestion(parts: tuple[str, ...]) -> str:
    """ " (did you mean 'host'?)" for an unknown key close to a known one, else a pointer
    to the example."""
    import difflib

    model: Any = Settings
    for depth, part in enumerate(parts[:-1]):
        if model is Settings and part == "partners" and depth == 0:
            model = PartnerSettings
            continue
        if model is PartnerSettings and depth == 1:
            continue  # the partner's name
        field = getattr(model, "model_fields", {}).get(part)
        annotation = getattr(field, "annotation", None)
        model = annotation if isinstance(annotation, type) else None
        if model is None:
            break
    known: list[str] = []
    if model is not None:
        for name, field in getattr(model, "model_fields", {}).items():
            if name in ("name", "config_path"):
                continue
            known.append(field.alias or name)
    close = difflib.get_close_matches(parts[-1] if parts else "", known, n=1, cutoff=0.6)
    if close:
        return f" (did you mean {quoted(close[0])}?)"
    return " (check its spelling against config.example.toml)"
