"""The kinds of value a profile's keys take, checked by pydantic, and ``one_line``: pydantic's ``ValidationError``
as the single line a profile error is shown as (file, dotted key, what is wrong, ``Fix: ...``).

Pydantic's own messages ("Input should be a valid integer") name neither the fix nor an example, so each kind
replaces them with its own words; the section-level ones (unknown key, missing key, not a mapping) are worded by
``one_line``, which knows the section from the error's location.
"""

import difflib
import typing
from typing import Annotated, Any, Callable, ClassVar, Iterable, Literal

from pydantic import (AfterValidator, BaseModel, ConfigDict, Field, PlainValidator, Strict, ValidationError,
                      WrapValidator)
from pydantic_core import ErrorDetails, PydanticCustomError

from study.core.errors import StudyError

EXAMPLE = "params/profiles/ci.yaml"
UNKNOWN_KEY = ("extra_forbidden", "invalid_key")  # invalid_key: a key YAML read as a number, null or boolean


class Section(BaseModel):
    """A mapping in a profile: only its own keys, frozen once read (profiles are hashed and compared)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # Only for a section that is an item of a list: what one is called, and the key that shows one, for the fix
    item_name: ClassVar[str]
    like: ClassVar[str]


def problem(message: str, fix: str, at: str | None = None) -> PydanticCustomError:
    """An error pydantic collects like its own. ``at``: the dotted key, where pydantic's location is not it (a rule
    across sections is checked on the whole profile)."""
    return PydanticCustomError("profile", "{message}", {"message": message, "fix": fix, "at": at})


def describe(value: Any) -> str:
    return repr(value) if isinstance(value, str) else f"{type(value).__name__} {value!r}"


def worded(words: Callable[[Any], tuple[str, str]]) -> WrapValidator:
    """Pydantic's check, with its error replaced by ``words(value)``: (what is wrong, the fix)."""

    def wrap(value, handler):
        try:
            return handler(value)
        except ValidationError:
            raise problem(*words(value)) from None

    return WrapValidator(wrap)


def whole_number(minimum: int):
    # Strict: YAML's true is not 1, 3.0 is not a count, and a quoted "3" is text
    return Annotated[int, Strict(), Field(ge=minimum), worded(lambda value: (
        f"expected a whole number >= {minimum}, got {describe(value)}",
        f"write a whole number such as {max(minimum, 1) * 10}"))]


def number(minimum: float):
    return Annotated[float, Strict(), Field(ge=minimum), worded(lambda value: (
        f"expected a number >= {minimum}, got {describe(value)}", f"write a number such as {max(minimum, 1.0)}"))]


# str.strip before the length check: blank text is missing text (and Python's strip, not pydantic's, decides blank)
Text = Annotated[str, Strict(), AfterValidator(str.strip), Field(min_length=1), worded(lambda value: (
    f"expected non-empty text, got {describe(value)}", "write a short sentence in quotes"))]


def one_of(what: str, choices: tuple[str, ...] | Callable[[], Iterable[str]]):
    """One of ``choices``: a tuple, or a function giving them where they live in a module too heavy to import
    for every profile (the quantization study's)."""

    def words(value) -> tuple[str, str]:
        names = tuple(choices) if isinstance(choices, tuple) else tuple(choices())
        close = difflib.get_close_matches(str(value), names, n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        return f"unknown {what} {value!r}{hint}", f"use one of: {', '.join(names)}"

    if isinstance(choices, tuple):
        return Annotated[Literal[choices], worded(words)]

    def check(value):
        if value not in tuple(choices()):
            raise problem(*words(value))
        return value

    return Annotated[str, PlainValidator(check)]


def list_of(item, example: str):
    """A non-empty list of ``item`` without repeats, kept as a tuple."""

    def wrap(value, handler):
        # A YAML sequence is a list; pydantic's tuple would also take a !!set, whose order is arbitrary
        if not isinstance(value, list) or not value:
            raise problem(f"expected a non-empty list, got {describe(value)}", f"write a list such as {example}")
        items = handler(value)  # an item's error keeps its index
        if len(set(map(str, items))) != len(items):
            raise problem("has duplicate entries", "list each entry once")
        return items

    return Annotated[tuple[item, ...], WrapValidator(wrap)]


def word_or(word: str, kind, means: Callable[[], Any] | None = None):
    """``word`` (or what it stands for, ``means()``), else a value of ``kind``: its errors are the ones reported,
    as a union of the two would report both."""

    def wrap(value, handler):
        if value == word:
            return means() if means else word
        return handler(value)

    return Annotated[kind, WrapValidator(wrap)]


def one_line(invalid: ValidationError, model: type[BaseModel], where: str) -> StudyError:
    """The first of pydantic's errors about ``model`` read from file ``where``, as one StudyError line."""
    key, message, fix = _words(_first(invalid.errors(include_url=False)), model)
    return StudyError(f"{where}: {key + ': ' if key else ''}{message}. Fix: {fix}")


def _first(errors: list[ErrorDetails]) -> ErrorDetails:
    """The error to report: the first in key order, except that a section's unknown keys come first (a misspelt
    key also shows up as its right spelling missing, and the misspelling is what to fix). In an item of a list they
    stay last, as pydantic lists them, and the first in sorted order is named."""
    at: tuple = ()
    while True:
        here = [e for e in errors if e["loc"][:len(at)] == at]
        unknown = [e for e in here if e["type"] in UNKNOWN_KEY and len(e["loc"]) == len(at) + 1]
        in_item = bool(at) and isinstance(at[-1], int)
        if unknown and not in_item:
            return unknown[0]
        first = here[0]
        if first in unknown:
            return min(unknown, key=lambda e: str(_unknown_key(e)))
        if len(first["loc"]) == len(at):
            return first
        at = first["loc"][:len(at) + 1]


def _words(error: ErrorDetails, root: type[BaseModel]) -> tuple[str, str, str]:
    """(dotted key, what is wrong, fix) for one error."""
    loc, kind, ctx = error["loc"], error["type"], error.get("ctx") or {}
    parent = loc[:-1]
    in_item = bool(parent) and isinstance(parent[-1], int)  # the key is one of a list item's
    if kind == "profile":
        return ctx["at"] or _key_path(loc), ctx["message"], ctx["fix"]
    if kind in UNKNOWN_KEY:
        key, keys = _unknown_key(error), list(_model_at(root, parent).model_fields)
        if in_item:
            return _key_path(parent), f"unknown key {key!r}", f"use only {', '.join(keys)}"
        close = difflib.get_close_matches(str(key), keys, n=1)
        hint = f"did you mean '{close[0]}'? " if close else ""
        return _key_path((*parent, str(key))), "unknown key", f"{hint}remove it or use one of: {', '.join(keys)}"
    if kind == "missing":
        see = f"to it (see {_model_at(root, parent).like})" if in_item else f"(see {EXAMPLE})"
        return _key_path(loc), "missing", f"add '{loc[-1]}:' {see}"
    if kind == "model_type":
        model = _model_at(root, loc)
        keys, got = ", ".join(model.model_fields), describe(error["input"])
        if not loc:
            return "", f"expected a mapping of {keys} at the top level, got {got}", f"start from {EXAMPLE}"
        fix = (f"write each {model.item_name} as a mapping like {model.like}" if isinstance(loc[-1], int)
               else f"write the keys {keys} indented under it")
        return _key_path(loc), f"expected a mapping of {keys}, got {got}", fix
    return _key_path(loc), error["msg"], f"see {EXAMPLE}"  # every kind above words its own; this is a safety net


def _unknown_key(error: ErrorDetails):
    return error["input"] if error["type"] == "invalid_key" else error["loc"][-1]


def _key_path(loc: tuple) -> str:
    """``energy.other_power_models: item 0: idle_watts``: keys dotted down to a list, whose items are numbered."""
    text, in_list = "", False
    for part in loc:
        if isinstance(part, int):
            text, in_list = f"{text}: item {part}", True
        elif in_list:
            text = f"{text}: {part}"
        else:
            text = f"{text}.{part}" if text else str(part)
    return text


def _model_at(model: type[BaseModel], loc: tuple) -> type[BaseModel]:
    """The section at ``loc`` (a list index keeps the list's item model)."""
    for part in loc:
        if isinstance(part, str):
            model = _model_in(model.model_fields[part].annotation)
    return model


def _model_in(annotation) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return next(filter(None, map(_model_in, typing.get_args(annotation))), None)
