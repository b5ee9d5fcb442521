"""Protected tables as pandas DataFrames."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence

import pandas as pd

from ._stubs import release_pb2

__all__ = ["Table", "LogReceipt", "status_name", "message_dict"]

TOTAL = "Total"


@dataclass(frozen=True)
class LogReceipt:
    """An action's entry in the linkage log: its index and a signed
    checkpoint of a tree that includes it. Keep it: with the log's published
    key it later proves what the log said (`ddc audit verify --checkpoint`)."""

    index: int
    checkpoint: str

    @classmethod
    def from_message(cls, m) -> Optional["LogReceipt"]:
        if m is None or (not m.checkpoint and not m.index):
            return None
        return cls(m.index, m.checkpoint)


def status_name(status: int) -> str:
    """`CELL_STATUS_WITHHELD_THRESHOLD` (2) as "withheld_threshold"; a
    status this client does not know as "status_<n>"."""
    try:
        name = release_pb2.CellStatus.Name(status)
    except ValueError:
        return f"status_{status}"
    return name[len("CELL_STATUS_") :].lower()


def message_dict(m) -> Optional[Dict[str, Any]]:
    """A protobuf message as a plain dict of its fields (defaults included);
    an absent sub-message is None."""
    if m is None:
        return None
    out: Dict[str, Any] = {}
    for f in m.DESCRIPTOR.fields:
        value = getattr(m, f.name)
        if f.message_type is not None and not _is_repeated(f):
            out[f.name] = message_dict(value) if m.HasField(f.name) else None
        elif _is_repeated(f):
            out[f.name] = [message_dict(v) if f.message_type is not None else v for v in value]
        else:
            out[f.name] = value
    return out


def _is_repeated(f) -> bool:
    is_repeated = getattr(f, "is_repeated", None)  # protobuf >= 5.29
    if is_repeated is not None:
        return bool(is_repeated)
    return f.label == f.LABEL_REPEATED


_MEASURES = {
    release_pb2.MEASURE_KIND_COUNT: "count",
    release_pb2.MEASURE_KIND_SUM: "sum",
    release_pb2.MEASURE_KIND_MEAN: "mean",
}


class Table:
    """A protected table as the server released it.

    Every cell has passed disclosure control: withheld cells carry no
    figure. Use `long()` for one row per cell or `wide()` for a cross
    table. Margins (totals over a variable) are part of the table; they are
    labelled "Total" and flagged, never shown as a category.

    Attributes:
        variables: the grouping variables as requested (`dataset.column`).
        names: the DataFrame column name of each variable: the column part
            (`niveau`), or the full name where two would clash.
        measure: "count", "sum" or "mean".
        variable: the numeric variable of a sum or mean table, else None.
        release: the release's number (every release is stored with its
            request).
        datasets: the datasets the population was linked over.
        policy: the disclosure policy applied, as a dict (threshold, ...).
        summary: cells withheld, by rule, as a dict.
        log: the release's entry in the linkage log (`LogReceipt`).
        message: the `ddc.v1.Table` message itself.
    """

    def __init__(self, message: "release_pb2.Table"):
        self.message = message
        self.variables: List[str] = [d.variable for d in message.dimensions]
        self.names: List[str] = _column_names(self.variables)
        self.measure: str = _MEASURES.get(message.measure, f"measure_{message.measure}")
        self.variable: Optional[str] = message.variable or None
        self.release: int = message.release
        self.datasets: List[str] = list(message.datasets)
        self.policy: Optional[Dict[str, Any]] = message_dict(message.policy) if message.HasField("policy") else None
        self.summary: Optional[Dict[str, Any]] = message_dict(message.summary) if message.HasField("summary") else None
        self.log: Optional[LogReceipt] = LogReceipt.from_message(message.log) if message.HasField("log") else None
        self._positions = [_positions(d) for d in message.dimensions]

    def __repr__(self) -> str:
        what = self.measure if self.variable is None else f"{self.measure} of {self.variable}"
        return f"<ddc Table release {self.release}: {what} by {' x '.join(self.variables)}, {len(self.message.cells)} cells>"

    def long(self, total_label: str = TOTAL) -> pd.DataFrame:
        """One row per cell, margins included.

        Columns, for each grouping variable `v` (named as in `names`):
          v           the category's label (from the code list; the code when
                      there is none), or `total_label` for a margin;
          value       the count (count tables) or the sum or mean; NaN where
                      withheld;
          count       distinct persons, where released (sum and mean tables
                      too); NaN where withheld;
          status      "released", "withheld_threshold", "withheld_secondary",
                      ..., "structural_zero" (CellStatus without its prefix);
          total_v     True where the cell is the total over `v`;
          is_total    True where the cell is a margin over any variable;
          code_v      the category's code (None for a margin);
          subtotal_v  True for a subtotal position (only for a variable
                      shown with subtotals of coarser levels).
        Rows come in the dimensions' order, each variable's total last.
        """
        cells = sorted(self.message.cells, key=lambda c: tuple(_order(i) for i in c.coordinates))
        columns: Dict[str, list] = {n: [] for n in self.names}
        codes: Dict[str, list] = {n: [] for n in self.names}
        totals: Dict[str, list] = {n: [] for n in self.names}
        subtotals: Dict[str, list] = {n: [] for n, p in zip(self.names, self._positions) if any(x.subtotal for x in p)}
        values, counts, statuses, is_total = [], [], [], []
        is_count = self.message.measure == release_pb2.MEASURE_KIND_COUNT
        for cell in cells:
            margin = False
            for name, positions, i in zip(self.names, self._positions, cell.coordinates):
                if i < 0:
                    margin = True
                    columns[name].append(total_label)
                    codes[name].append(None)
                    totals[name].append(True)
                    if name in subtotals:
                        subtotals[name].append(False)
                else:
                    p = positions[i] if i < len(positions) else _Position(str(i), str(i), False)
                    columns[name].append(p.label)
                    codes[name].append(p.code)
                    totals[name].append(False)
                    if name in subtotals:
                        subtotals[name].append(p.subtotal)
            count = float(cell.count) if cell.HasField("count") else math.nan
            if is_count:
                value = count
            else:
                value = float(cell.value) if cell.HasField("value") else math.nan
            values.append(value)
            counts.append(count)
            statuses.append(status_name(cell.status))
            is_total.append(margin)
        data: Dict[str, Any] = {}
        for n in self.names:
            data[n] = pd.Series(columns[n], dtype=object)
        data["value"] = pd.Series(values, dtype="float64")
        data["count"] = pd.Series(counts, dtype="float64")
        data["status"] = pd.Series(statuses, dtype=object)
        for n in self.names:
            data[f"total_{n}"] = pd.Series(totals[n], dtype=bool)
        data["is_total"] = pd.Series(is_total, dtype=bool)
        for n in self.names:
            data[f"code_{n}"] = pd.Series(codes[n], dtype=object)
        for n, flags in subtotals.items():
            data[f"subtotal_{n}"] = pd.Series(flags, dtype=bool)
        return pd.DataFrame(data)

    def wide(self, values: str = "value", total_label: str = TOTAL) -> pd.DataFrame:
        """A cross table: the first grouping variable as rows, the second as
        columns (with a third, columns are a (second, third) MultiIndex);
        one column named after `values` when there is one variable. Margins
        are the `total_label` row and column. Cells hold `values` ("value"
        or "count"), NaN where withheld or absent.
        """
        if values not in ("value", "count"):
            raise ValueError("values must be 'value' or 'count'")
        is_count = self.message.measure == release_pb2.MEASURE_KIND_COUNT
        figures: Dict[tuple, float] = {}
        for cell in self.message.cells:
            if values == "count" or is_count:
                v = float(cell.count) if cell.HasField("count") else math.nan
            else:
                v = float(cell.value) if cell.HasField("value") else math.nan
            figures[tuple(cell.coordinates)] = v
        keys = [list(range(len(p))) + [-1] for p in self._positions]
        labels = [_unique_labels(p, total_label) for p in self._positions]
        if not keys:
            return pd.DataFrame()
        row_index = pd.Index([labels[0][k] for k in keys[0]], name=self.names[0], dtype=object)
        if len(keys) == 1:
            data = [[figures.get((k,), math.nan)] for k in keys[0]]
            return pd.DataFrame(data, index=row_index, columns=[values], dtype="float64")
        column_keys = _product(keys[1:])
        if len(keys) == 2:
            column_index = pd.Index([labels[1][c[0]] for c in column_keys], name=self.names[1], dtype=object)
        else:
            column_index = pd.MultiIndex.from_tuples(
                [tuple(labels[d + 1][k] for d, k in enumerate(c)) for c in column_keys], names=self.names[1:]
            )
        data = [[figures.get((r,) + c, math.nan) for c in column_keys] for r in keys[0]]
        return pd.DataFrame(data, index=row_index, columns=column_index, dtype="float64")


@dataclass(frozen=True)
class _Position:
    code: str
    label: str
    subtotal: bool


def _positions(d) -> List[_Position]:
    if len(d.entries) == len(d.categories) and d.entries:
        return [_Position(e.code or c, e.label or e.code or c, bool(e.subtotal)) for e, c in zip(d.entries, d.categories)]
    if d.entries:
        return [_Position(e.code, e.label or e.code, bool(e.subtotal)) for e in d.entries]
    return [_Position(c, c, False) for c in d.categories]


def _unique_labels(positions: Sequence[_Position], total_label: str) -> Dict[int, str]:
    """Position -> label for a wide table's index; a label shared by two
    positions gets its code added, so no two rows or columns share a name."""
    labels = [p.label for p in positions]
    seen: Dict[str, int] = {}
    for label in labels + [total_label]:
        seen[label] = seen.get(label, 0) + 1
    out = {}
    for i, p in enumerate(positions):
        out[i] = p.label if seen[p.label] == 1 else f"{p.label} [{p.code}]"
    out[-1] = total_label
    return out


def _order(i: int) -> int:
    return i if i >= 0 else 1 << 31


def _product(keys: List[List[int]]) -> List[tuple]:
    out = [()]
    for k in keys:
        out = [o + (x,) for o in out for x in k]
    return out


def _column_names(variables: Sequence[str]) -> List[str]:
    """`duo.python.niveau` as "niveau" (the part after the dataset name; a
    coarser level stays, `gemeente@provincie`, subtotals `+level` go),
    unless two variables would share it: then the full names."""
    short = []
    for v in variables:
        grouped = v.split("+", 1)[0]
        base = grouped.split("@", 1)[0]
        short.append(base.rsplit(".", 1)[-1] + grouped[len(base) :])
    if len(set(short)) == len(short) and not any(s in _RESERVED for s in short):
        return short
    return list(variables)


_RESERVED = {"value", "count", "status", "is_total"}


def linkage_frame(report) -> pd.DataFrame:
    """A LinkageReport as a DataFrame: one row per dataset (`other` None:
    persons in the dataset) and one per pair (persons in both), with
    `persons` (NaN where withheld) and `status`."""
    rows = []
    for d in report.datasets:
        rows.append((d.dataset, None, _figure(d.persons), status_name(d.persons.status)))
    for p in report.pairs:
        rows.append((p.left, p.right, _figure(p.linked), status_name(p.linked.status)))
    frame = pd.DataFrame(
        {
            "dataset": pd.Series([r[0] for r in rows], dtype=object),
            "other": pd.Series([r[1] for r in rows], dtype=object),
            "persons": pd.Series([r[2] for r in rows], dtype="float64"),
            "status": pd.Series([r[3] for r in rows], dtype=object),
        }
    )
    frame.attrs["policy"] = message_dict(report.policy) if report.HasField("policy") else None
    log = LogReceipt.from_message(report.log) if report.HasField("log") else None
    frame.attrs["log"] = None if log is None else {"index": log.index, "checkpoint": log.checkpoint}
    return frame


def _figure(f) -> float:
    return float(f.rounded) if f.HasField("rounded") else math.nan
