"""Machine-readable errors.

Every refusal of a ddc server carries a `google.rpc.ErrorInfo` (domain
`ddc.v1`) with a stable reason such as `INVALID_ROWS`, and problems with
particular fields come as `google.rpc.BadRequest` field violations whose
`field` is a path: `rows[12].birth_year` (data row 12 of an uploaded file,
column birth_year), `rows[12]` (the row as a whole), `header.birth_year` and
`header` (the header line), or a request field such as
`filters[0].values[2]`. `DdcError` turns all of that into attributes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Dict, List, Optional

import grpc

__all__ = ["DdcError", "Violation", "parse_field_path"]

ERROR_DOMAIN = "ddc.v1"

# Reasons whose `header...` paths name the uploaded file's header line
# rather than the UploadHeader message (`header.upload_id`).
_FILE_REASONS = frozenset({"INVALID_HEADER", "INVALID_ROWS"})

_ROW_PATH = re.compile(r"^rows\[(\d+)\](?:\.([a-z][a-z0-9_]*))?$")
_HEADER_PATH = re.compile(r"^header(?:\.([a-z][a-z0-9_]*))?$")


@dataclass(frozen=True)
class Violation:
    """One problem with one field.

    `field` is always the server's path. For a path into an uploaded file,
    `row` is the data row (counted from 1, the header line not included:
    row N is line N + 1 of the file) and `column` the column at fault;
    both are None when the path is a request field, and `column` is None
    for a row as a whole. `reason` is the sentence for people. `place` says
    which it is: "row", "header" (the file's header line) or "request".
    """

    row: Optional[int]
    column: Optional[str]
    field: str
    reason: str
    place: str = "request"


def parse_field_path(path: str, reason: Optional[str] = None) -> Violation:
    """Reads a violation path into a `Violation` (with an empty sentence).

    `rows[N]` and `rows[N].column` always name the uploaded file. `header`
    and `header.column` name its header line when the error's `reason` is
    INVALID_HEADER or INVALID_ROWS (or unknown); otherwise they name a field
    of the upload's header message (`header.upload_id`).
    """
    m = _ROW_PATH.match(path)
    if m:
        return Violation(int(m.group(1)), m.group(2), path, "", "row")
    m = _HEADER_PATH.match(path)
    if m and (reason is None or reason in _FILE_REASONS):
        return Violation(None, m.group(1), path, "", "header")
    return Violation(None, None, path, "", "request")


class DdcError(Exception):
    """A call the server refused (or could not be made).

    Attributes:
        code: the gRPC status code's canonical name, e.g. "INVALID_ARGUMENT",
            "NOT_FOUND", "UNAVAILABLE".
        reason: the server's stable reason, e.g. "INVALID_ROWS",
            "DATASET_NOT_FOUND", "PERMISSION_DENIED"; None when the answer
            carried none (e.g. the server could not be reached).
        message: the server's message, for people.
        violations: `Violation`s from google.rpc.BadRequest, in order.
        metadata: the ErrorInfo metadata, e.g. {"field": "group_by[0]"} for
            a NOT_FOUND (the request field that held the missing name).
        domain: the ErrorInfo domain ("ddc.v1").
    """

    # Stable class name for other languages (R: `ddc_client.DdcError`).
    __module__ = "ddc_client"

    def __init__(
        self,
        code: str,
        message: str,
        reason: Optional[str] = None,
        violations: Optional[List[Violation]] = None,
        metadata: Optional[Dict[str, str]] = None,
        domain: Optional[str] = None,
    ):
        super().__init__(code, message)
        self.code = code
        self.message = message
        self.reason = reason
        self.violations = list(violations or [])
        self.metadata = dict(metadata or {})
        self.domain = domain

    def __str__(self) -> str:
        head = self.code if not self.reason or self.reason == self.code else f"{self.code} ({self.reason})"
        text = f"{head}: {self.message}"
        shown = self.violations[:10]
        for v in shown:
            text += f"\n  {v.field}: {v.reason}"
        if len(self.violations) > len(shown):
            text += f"\n  ... and {len(self.violations) - len(shown)} more"
        return text

    def __repr__(self) -> str:
        return f"DdcError(code={self.code!r}, reason={self.reason!r}, message={self.message!r}, violations={len(self.violations)})"

    def __reduce__(self):
        return (
            DdcError,
            (self.code, self.message, self.reason, self.violations, self.metadata, self.domain),
        )

    def violations_frame(self):
        """The violations as a pandas DataFrame (columns row, column, field,
        reason, place): handy in notebooks and from R."""
        import pandas as pd

        return pd.DataFrame(
            {
                "row": pd.array([v.row for v in self.violations], dtype="Int64"),
                "column": [v.column for v in self.violations],
                "field": [v.field for v in self.violations],
                "reason": [v.reason for v in self.violations],
                "place": [v.place for v in self.violations],
            }
        )

    @classmethod
    def from_rpc_error(cls, error: grpc.RpcError) -> "DdcError":
        """Reads code, message and the error details of a failed call."""
        code_obj = error.code() if hasattr(error, "code") else None
        code = getattr(code_obj, "name", None) or "UNKNOWN"
        message = (error.details() if hasattr(error, "details") else None) or ""
        reason = domain = None
        metadata: Dict[str, str] = {}
        paths: List[tuple] = []
        for detail in _details(error):
            info = _unpack(detail, "ErrorInfo")
            if info is not None:
                reason, domain = info.reason or None, info.domain or None
                metadata = dict(info.metadata)
                continue
            bad = _unpack(detail, "BadRequest")
            if bad is not None:
                for v in bad.field_violations:
                    paths.append((v.field, v.description or getattr(v, "reason", "") or ""))
        violations = []
        for path, sentence in paths:
            v = parse_field_path(path, reason)
            violations.append(Violation(v.row, v.column, v.field, sentence, v.place))
        return cls(code, message, reason, violations, metadata, domain)


def _details(error):
    """The status details (google.protobuf.Any) of a failed call, if any."""
    try:
        from grpc_status import rpc_status

        status = rpc_status.from_call(error)
    except Exception:  # no trailers (e.g. a local failure), or a mismatch
        return []
    return list(status.details) if status is not None else []


def _unpack(any_message, kind):
    from google.rpc import error_details_pb2

    message = getattr(error_details_pb2, kind)()
    if any_message.Is(message.DESCRIPTOR):
        any_message.Unpack(message)
        return message
    return None
