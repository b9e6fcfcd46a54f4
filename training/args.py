"""Command-line parsing from one `@dataclass Args`: each field becomes `--field-name`, help from metadata."""
from __future__ import annotations

import argparse
import dataclasses
import types
import typing


def parse(args_class: type, argv: list[str] | None, prog: str, description: str = ""):
    """An `args_class` instance from `argv`; fields without a default are required options."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    hints = typing.get_type_hints(args_class)
    for field in dataclasses.fields(args_class):
        _add_option(parser, field, hints[field.name])
    return args_class(**vars(parser.parse_args(argv)))


def _add_option(parser: argparse.ArgumentParser, field: dataclasses.Field, hint) -> None:
    flag = "--" + field.name.replace("_", "-")
    help_text = field.metadata.get("help", "")
    required = field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING
    default = None if required else field.default
    if hint is bool:
        parser.add_argument(flag, dest=field.name, action=argparse.BooleanOptionalAction, default=default,
                            help=help_text)
        return
    if typing.get_origin(hint) is tuple:  # a repeatable option: each use adds an item
        parser.add_argument(flag, dest=field.name, action="append", required=required, default=default,
                            help=f"{help_text} (repeatable)")
        return
    choices = field.metadata.get("choices")
    kind = _scalar_type(hint)
    parser.add_argument(flag, dest=field.name, type=kind, default=default, required=required,
                        choices=choices, help=f"{help_text} (default: {default})" if not required else help_text)


def _scalar_type(hint):
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        hint = next(arg for arg in typing.get_args(hint) if arg is not type(None))
    return hint if hint in (int, float, str) else str


def split_list(text: str) -> tuple[str, ...]:
    """'a, b,,c' -> ('a', 'b', 'c'): a comma-separated option's items."""
    return tuple(item.strip() for item in text.split(",") if item.strip())


def not_corpora(data: str) -> list[str]:
    """The folders of a comma-separated --data option that are not corpora (no manifest.jsonl)."""
    from pathlib import Path

    return [folder for folder in split_list(data) if not Path(folder, "manifest.jsonl").is_file()]


def option(default=dataclasses.MISSING, help: str = "", choices=None):  # noqa: A002 - argparse's word
    """A dataclass field with command-line help."""
    return dataclasses.field(default=default, metadata={"help": help, "choices": choices})
