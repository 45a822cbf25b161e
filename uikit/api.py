"""Helpers for the public Gradio API: errors a client reads, JSON-safe table cells, type-checked endpoints,
and hiding every endpoint that is not meant for clients."""

from __future__ import annotations

import functools
import inspect
import math
import types
import typing
from typing import Any

import gradio as gr
import pandas as pd


def refused(message: str) -> gr.Error:
    """A client's bad input: the message goes to the client; the server log gets no traceback."""
    return gr.Error(message, print_exception=False)


def json_cell(value: Any) -> Any:
    """A frame cell as JSON: numpy numbers as Python numbers, no value (NaN, pandas' NA, e.g. the rank of an
    unranked partial row) as None."""
    if value is pd.NA or value is None:
        return None
    if hasattr(value, "item"):
        value = value.item()
    return None if isinstance(value, float) and math.isnan(value) else value


TYPE_WORDS = {str: "text", int: "a whole number", float: "a number", bool: "true or false",
              type(None): "null", list: "a list"}


def _fits(value: object, hint: object) -> bool:
    if isinstance(hint, types.UnionType):
        return any(_fits(value, option) for option in typing.get_args(hint))
    if typing.get_origin(hint) is list:
        (item,) = typing.get_args(hint)
        return isinstance(value, list) and all(_fits(v, item) for v in value)
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, hint)  # str, bool, None


def _words(hint: object) -> str:
    if isinstance(hint, types.UnionType):
        return " or ".join(_words(option) for option in typing.get_args(hint))
    if typing.get_origin(hint) is list:
        return f"a list of {_words(typing.get_args(hint)[0])}"
    return TYPE_WORDS[hint]


def typed_endpoint(fn):
    """``fn`` as an API endpoint: Gradio hands over whatever JSON a client sends, so a value of the wrong type
    (text for a page number, one string for a list) is refused here with a message naming the parameter."""
    hints = typing.get_type_hints(fn)
    signature = inspect.signature(fn)

    @functools.wraps(fn)
    def call(*args, **kwargs):
        for name, value in signature.bind(*args, **kwargs).arguments.items():
            if not _fits(value, hints[name]):
                raise refused(f"{name} must be {_words(hints[name])}, not {value!r:.80}.")
        return fn(*args, **kwargs)

    return call


def publish_only(demo: gr.Blocks, names: tuple[str, ...]) -> None:
    """Hide every endpoint but ``names`` from the API (docs and clients). One pass after the page is built,
    because the load events Gradio adds for callable component values take no visibility setting."""
    for fn in demo.fns.values():
        if fn.api_name not in names:
            fn.api_visibility = "private"
