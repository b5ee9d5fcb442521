"""Column descriptions for `Client.create_dataset`.

A column is a plain dict, made most easily by one of the helpers:

    categorical("niveau", ["vmbo", "havo", "vwo"])   # closed categories
    open_categorical("gemeente")                      # any value
    code_list("niveau", "onderwijsniveau")            # the codes of a code list
    integer("leerjaar")                               # whole numbers
    decimal("inkomen", 2, unit="household")           # fixed point, 2 decimals

or by the `ddc dataset create --column` syntax: "niveau:cat:vmbo,havo,vwo",
"gemeente:open", "niveau:list:onderwijsniveau", "leerjaar:int",
"inkomen:dec:2:household". A `common_pb2.Column` message is taken as it is.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, List, Optional

from ._stubs import common_pb2

__all__ = [
    "categorical",
    "open_categorical",
    "code_list",
    "integer",
    "decimal",
    "Dataset",
]

_UNITS = {"person": common_pb2.UNIT_PERSON, "household": common_pb2.UNIT_HOUSEHOLD}
_IDENTIFIER_MODES = {
    None: common_pb2.IDENTIFIER_MODE_UNSPECIFIED,
    "identifier": common_pb2.IDENTIFIER_MODE_IDENTIFIER,
    "holder_pseudonym": common_pb2.IDENTIFIER_MODE_HOLDER_PSEUDONYM,
}


def categorical(name: str, categories: Iterable[str]) -> Dict[str, Any]:
    """A categorical column with these categories, in the order tables show
    them; any other value rejects the row."""
    if isinstance(categories, str):
        raise TypeError("categories must be a list of strings, not one string")
    return {"name": name, "kind": "categorical", "categories": [str(c) for c in categories]}


def open_categorical(name: str) -> Dict[str, Any]:
    """A categorical column that accepts any value; tables show the values
    present, sorted."""
    return {"name": name, "kind": "categorical", "open": True}


def code_list(name: str, list_name: str, version: int = 0) -> Dict[str, Any]:
    """A categorical column on a published code list (version 0: the latest)."""
    return {"name": name, "kind": "categorical", "code_list": list_name, "code_list_version": int(version)}


def integer(name: str, unit: str = "person") -> Dict[str, Any]:
    """A whole-number column; `unit` "household" for a household's value."""
    return {"name": name, "kind": "integer", "unit": unit}


def decimal(name: str, scale: int, unit: str = "person") -> Dict[str, Any]:
    """A fixed-point column with `scale` digits after the point (0 to 9)."""
    return {"name": name, "kind": "decimal", "scale": int(scale), "unit": unit}


def column_message(spec: Any) -> "common_pb2.Column":
    """A column description (dict, `--column` string or message) as a message."""
    if isinstance(spec, common_pb2.Column):
        return spec
    if isinstance(spec, str):
        spec = _parse_spec(spec)
    if not isinstance(spec, Mapping):
        raise TypeError(f"a column is a dict, a 'name:kind' string or a Column message, not {type(spec).__name__}")
    d = dict(spec)
    name = d.get("name")
    if not name or not isinstance(name, str):
        raise ValueError(f"a column needs a name: {spec!r}")
    kind = d.get("kind")
    if kind is None:
        if "categories" in d or d.get("open") or d.get("code_list"):
            kind = "categorical"
        elif "scale" in d:
            kind = "decimal"
        else:
            raise ValueError(f"column {name!r}: say its kind (categorical, integer or decimal)")
    unit_name = d.get("unit", "person") or "person"
    if unit_name not in _UNITS:
        raise ValueError(f"column {name!r}: unit must be 'person' or 'household', not {unit_name!r}")
    column = common_pb2.Column(name=name, unit=_UNITS[unit_name])
    if kind == "categorical":
        categories = d.get("categories") or []
        if isinstance(categories, str):
            raise TypeError(f"column {name!r}: categories must be a list of strings, not one string")
        column.categorical.CopyFrom(
            common_pb2.Categorical(
                categories=[str(c) for c in categories],
                open=bool(d.get("open", False)),
                code_list=d.get("code_list") or "",
                code_list_version=int(d.get("code_list_version") or 0),
            )
        )
    elif kind == "integer":
        column.integer.CopyFrom(common_pb2.Integer())
    elif kind == "decimal":
        if "scale" not in d:
            raise ValueError(f"column {name!r}: a decimal column needs a scale")
        column.decimal.CopyFrom(common_pb2.Decimal(scale=int(d["scale"])))
    else:
        raise ValueError(f"column {name!r}: unknown kind {kind!r} (categorical, integer or decimal)")
    return column


def _parse_spec(spec: str) -> Dict[str, Any]:
    """`ddc dataset create --column` syntax."""
    parts = spec.split(":", 2)
    name, kind, rest = parts[0], parts[1] if len(parts) > 1 else None, parts[2] if len(parts) > 2 else None
    if kind == "cat" and rest:
        return categorical(name, rest.split(","))
    if kind == "open" and rest is None:
        return open_categorical(name)
    if kind == "list" and rest:
        return code_list(name, rest)
    if kind == "int":
        return integer(name, rest or "person")
    if kind == "dec" and rest:
        scale, _, unit = rest.partition(":")
        try:
            return decimal(name, int(scale), unit or "person")
        except ValueError:
            pass
    raise ValueError(
        f"column {spec!r}: expected NAME:cat:A,B,C, NAME:open, NAME:list:CODELIST, "
        "NAME:int[:household] or NAME:dec:SCALE[:household]"
    )


def schema_message(
    identifier_column: str,
    columns: Iterable[Any],
    household_column: str = "",
    identifier_mode: Optional[str] = None,
) -> "common_pb2.Schema":
    if isinstance(columns, (str, Mapping)):
        columns = [columns]
    if identifier_mode not in _IDENTIFIER_MODES:
        raise ValueError("identifier_mode must be None, 'identifier' or 'holder_pseudonym'")
    return common_pb2.Schema(
        identifier_column=identifier_column,
        columns=[column_message(c) for c in columns],
        household_column=household_column or "",
        identifier_mode=_IDENTIFIER_MODES[identifier_mode],
    )


@dataclass(frozen=True)
class Dataset:
    """A declared dataset, as the server describes it.

    `columns` are dicts in the form the helpers of this module make;
    `version` is the number of uploads committed (0: no data yet).
    """

    name: str
    organisation: str
    version: int
    identifier_column: str
    identifier_mode: str
    household_column: Optional[str]
    columns: List[Dict[str, Any]] = field(default_factory=list)

    @classmethod
    def from_message(cls, d: "common_pb2.Dataset") -> "Dataset":
        try:
            mode = common_pb2.IdentifierMode.Name(d.schema.identifier_mode).removeprefix("IDENTIFIER_MODE_").lower()
        except ValueError:  # a mode this client does not know
            mode = f"mode_{d.schema.identifier_mode}"
        return cls(
            name=d.name,
            organisation=d.organisation,
            version=d.version,
            identifier_column=d.schema.identifier_column,
            identifier_mode=mode,
            household_column=d.schema.household_column or None,
            columns=[_column_dict(c) for c in d.schema.columns],
        )


def _column_dict(c: "common_pb2.Column") -> Dict[str, Any]:
    unit = "household" if c.unit == common_pb2.UNIT_HOUSEHOLD else "person"
    kind = c.WhichOneof("kind")
    if kind == "categorical":
        k = c.categorical
        if k.code_list:
            return code_list(c.name, k.code_list, k.code_list_version)
        if k.open:
            return open_categorical(c.name)
        return categorical(c.name, list(k.categories))
    if kind == "integer":
        return integer(c.name, unit)
    if kind == "decimal":
        return decimal(c.name, c.decimal.scale, unit)
    return {"name": c.name, "kind": None}
