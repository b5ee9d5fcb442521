"""The ddc client: connect, declare datasets, upload, ask for tables."""

from __future__ import annotations

import hashlib
import os
import uuid
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import IO, Any, Iterable, List, NamedTuple, Optional, Sequence, Union

import grpc
import pandas as pd

from ._stubs import ingest_pb2, ingest_pb2_grpc, release_pb2, release_pb2_grpc
from .errors import DdcError
from .schema import Dataset, schema_message
from .tables import LogReceipt, Table, linkage_frame

__all__ = ["Client", "UploadReceipt", "RowProblem"]

# The server accepts messages up to 4 MiB; chunks of 1 MiB, as the protocol asks.
CHUNK = 1 << 20
# Tables can be large; the default 4 MiB receive limit would refuse them.
MAX_RECEIVE = 256 << 20

PathLike = Union[str, "os.PathLike[str]"]


class RowProblem(NamedTuple):
    """Why one row was rejected (with `skip_invalid`); never the value itself.
    `row` counts data rows from 1; `column` is None for the row as a whole."""

    row: int
    column: Optional[str]
    reason: str


@dataclass(frozen=True)
class UploadReceipt:
    """What an upload stored.

    `version` is the dataset version it created; `problems` the first
    rejected rows (at most 10,000; `rows_rejected` has the total);
    `replayed` is True when the upload id had been committed before, so this
    is the original receipt and nothing new was stored; `log` the upload's
    entry in the linkage log.
    """

    dataset: str
    version: int
    rows_read: int
    rows_stored: int
    rows_rejected: int
    problems: List[RowProblem] = field(default_factory=list)
    upload_id: str = ""
    replayed: bool = False
    log: Optional[LogReceipt] = None

    @classmethod
    def from_message(cls, r) -> "UploadReceipt":
        return cls(
            dataset=r.dataset,
            version=r.version,
            rows_read=r.rows_read,
            rows_stored=r.rows_stored,
            rows_rejected=r.rows_rejected,
            problems=[RowProblem(p.row, p.column or None, p.reason) for p in r.problems],
            upload_id=r.upload_id,
            replayed=r.replayed,
            log=LogReceipt.from_message(r.log) if r.HasField("log") else None,
        )


_MEASURES = {
    "count": release_pb2.MEASURE_KIND_COUNT,
    "sum": release_pb2.MEASURE_KIND_SUM,
    "mean": release_pb2.MEASURE_KIND_MEAN,
}


class Client:
    """A connection to a ddc server.

    Make one with `Client.connect(...)`; close it with `close()` or use it
    as a context manager. Every method raises `DdcError` when the server
    refuses (or cannot be reached), with the code, the server's reason and
    any field violations.
    """

    def __init__(self, channel: grpc.Channel, *, timeout: Optional[float] = 30.0, address: str = ""):
        self._channel = channel
        self.timeout = timeout
        self.address = address
        self._ingest = ingest_pb2_grpc.IngestStub(channel)
        self._release = release_pb2_grpc.ReleaseStub(channel)

    @classmethod
    def connect(
        cls,
        address: str,
        *,
        ca: Optional[Union[PathLike, bytes]] = None,
        cert: Optional[Union[PathLike, bytes]] = None,
        key: Optional[Union[PathLike, bytes]] = None,
        timeout: Optional[float] = 30.0,
        server_name: Optional[str] = None,
    ) -> "Client":
        """Connects to `address`: `host:port`, `http://host:port` or
        `https://host:port`.

        Without TLS files the connection is plaintext, which only a
        development server (`ddc serve --insecure-plaintext-dev`, on a
        loopback address) accepts. With `ca` (the CA certificate that
        issued the server's certificate), `cert` and `key` (the caller's
        client certificate and private key), all PEM files (paths, or the
        bytes themselves), it is mutual TLS: the certificate says who is
        calling. `https://` without them, or `http://` with them, is a
        ValueError. `server_name` overrides the name the server's
        certificate is checked against (e.g. "localhost" when connecting to
        127.0.0.1). `timeout` is the deadline in seconds of each call
        (None: none); uploads have none unless given their own.

        Connecting does not contact the server: an unreachable one shows as
        DdcError code UNAVAILABLE on the first call.
        """
        scheme, target = _split_address(address)
        tls_files = {"ca": ca, "cert": cert, "key": key}
        given = [k for k, v in tls_files.items() if v is not None]
        options = [
            ("grpc.max_receive_message_length", MAX_RECEIVE),
            ("grpc.max_send_message_length", 4 << 20),
        ]
        if given:
            missing = [k for k in tls_files if k not in given]
            if missing:
                raise ValueError(
                    "mutual TLS needs ca, cert and key together (PEM files); missing: " + ", ".join(missing)
                )
            if scheme == "http":
                raise ValueError(f"{address!r} asks for plaintext (http://) but TLS files were given: use https:// or host:port")
            credentials = grpc.ssl_channel_credentials(
                root_certificates=_read_pem(ca, "ca"),
                private_key=_read_pem(key, "key"),
                certificate_chain=_read_pem(cert, "cert"),
            )
            if server_name:
                options.append(("grpc.ssl_target_name_override", server_name))
            channel = grpc.secure_channel(target, credentials, options=options)
        else:
            if scheme == "https":
                raise ValueError(
                    f"{address!r} asks for TLS (https://): give ca, cert and key (PEM files of the "
                    "server's CA and your client certificate); plaintext is for a development server "
                    "only (http://host:port or host:port)"
                )
            channel = grpc.insecure_channel(target, options=options)
        return cls(channel, timeout=timeout, address=address)

    def close(self) -> None:
        """Closes the connection."""
        self._channel.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<ddc Client {self.address}>"

    # --- datasets ---------------------------------------------------------

    def create_dataset(
        self,
        name: str,
        organisation: str,
        identifier_column: str,
        columns: Iterable[Any],
        *,
        household_column: str = "",
        identifier_mode: Optional[str] = None,
    ) -> Dataset:
        """Declares a new, empty dataset `organisation.local_name`.

        `identifier_column` is the CSV column holding the person identifier
        (a BSN or onderwijsnummer; pseudonymised on arrival, never stored).
        `columns` describe the other columns in order: see
        `ddc_client.categorical` and friends. `identifier_mode`
        "holder_pseudonym" for files holding the holders' HMAC instead.
        DdcError ALREADY_EXISTS (DATASET_EXISTS) if the name is taken;
        INVALID_ARGUMENT (INVALID_DEFINITION, with violations) for a bad
        schema.
        """
        request = ingest_pb2.CreateDatasetRequest(
            name=name,
            organisation=organisation,
            schema=schema_message(identifier_column, columns, household_column, identifier_mode),
        )
        return Dataset.from_message(self._call(self._ingest.CreateDataset, request))

    def ensure_dataset(
        self,
        name: str,
        organisation: str,
        identifier_column: str,
        columns: Iterable[Any],
        *,
        household_column: str = "",
        identifier_mode: Optional[str] = None,
    ) -> Dataset:
        """`create_dataset`, unless a dataset of that name exists: then that
        one is returned (a notebook or script can run again). Only the
        identifier column and the column names are compared with the
        existing definition; a difference is a warning, not an error.
        """
        columns = list(columns) if not isinstance(columns, (str, Mapping)) else [columns]
        try:
            return self.create_dataset(
                name,
                organisation,
                identifier_column,
                columns,
                household_column=household_column,
                identifier_mode=identifier_mode,
            )
        except DdcError as e:
            if e.code != "ALREADY_EXISTS":
                raise
        existing = self.dataset(name)
        wanted = schema_message(identifier_column, columns, household_column, identifier_mode)
        if existing.identifier_column != wanted.identifier_column or [c["name"] for c in existing.columns] != [
            c.name for c in wanted.columns
        ]:
            warnings.warn(
                f"dataset {name} exists with another definition (identifier {existing.identifier_column}, "
                f"columns {[c['name'] for c in existing.columns]}); using it as it is",
                stacklevel=2,
            )
        return existing

    def dataset(self, name: str) -> Dataset:
        """One declared dataset. DdcError NOT_FOUND (DATASET_NOT_FOUND) if
        it does not exist."""
        return Dataset.from_message(self._call(self._ingest.GetDataset, ingest_pb2.GetDatasetRequest(name=name)))

    def datasets(self) -> List[Dataset]:
        """The declared datasets (those the caller may see)."""
        response = self._call(self._ingest.ListDatasets, ingest_pb2.ListDatasetsRequest())
        return [Dataset.from_message(d) for d in response.datasets]

    # --- uploads ----------------------------------------------------------

    def upload(
        self,
        dataset: str,
        path: Union[PathLike, IO[bytes]],
        *,
        replace: bool = False,
        skip_invalid: bool = False,
        upload_id: Optional[str] = None,
        timeout: Optional[float] = None,
    ) -> UploadReceipt:
        """Uploads a CSV file (header line first) into `dataset`.

        The file goes as a stream: a header, the bytes in 1 MiB chunks, and
        a closing message with the byte count and SHA-256, without which the
        server stores nothing. The upload is one transaction: all of it or
        nothing. Invalid rows reject the whole upload (DdcError
        INVALID_ARGUMENT, reason INVALID_ROWS, one violation per row with
        its `row` and `column`) unless `skip_invalid`, which stores the valid
        rows and reports the others in the receipt's `problems`. A dataset
        that holds data needs `replace=True` (else FAILED_PRECONDITION,
        DATASET_HAS_DATA).

        `upload_id` (16 to 64 letters, digits, '-' or '_'; default a random
        one) makes a retry safe: calling again with the same id after a lost
        connection returns the original receipt (`replayed` True) instead of
        storing the file twice. `path` may also be a binary file object.
        FileNotFoundError (before anything is sent) if the file is missing.
        `timeout`: a deadline for the whole upload, in seconds (default
        none; the server cancels an upload that sends nothing for a minute).
        """
        if upload_id is None:
            upload_id = uuid.uuid4().hex
        if hasattr(path, "read"):
            source, owned = path, False
        else:
            source, owned = open(os.fspath(path), "rb"), True  # raises FileNotFoundError here
        header = ingest_pb2.UploadHeader(
            dataset=dataset, skip_invalid=bool(skip_invalid), replace=bool(replace), upload_id=upload_id
        )
        failure: List[BaseException] = []

        def requests():
            try:
                yield ingest_pb2.UploadRequest(header=header)
                digest, size = hashlib.sha256(), 0
                while True:
                    chunk = source.read(CHUNK)
                    if not chunk:
                        break
                    if not isinstance(chunk, (bytes, bytearray, memoryview)):
                        raise TypeError("upload: the file must be opened in binary mode ('rb')")
                    chunk = bytes(chunk)
                    digest.update(chunk)
                    size += len(chunk)
                    yield ingest_pb2.UploadRequest(chunk=chunk)
                yield ingest_pb2.UploadRequest(end=ingest_pb2.UploadEnd(bytes=size, sha256=digest.digest()))
            except Exception as e:  # reading failed: the call is cancelled; raise this, not UNKNOWN
                failure.append(e)
                raise

        try:
            receipt = self._ingest.Upload(requests(), timeout=timeout)
        except grpc.RpcError as e:
            if failure:
                raise failure[0] from None
            raise DdcError.from_rpc_error(e) from e
        finally:
            if owned:
                source.close()
        return UploadReceipt.from_message(receipt)

    # --- releases ---------------------------------------------------------

    def table(
        self,
        group_by: Union[str, Sequence[str]],
        *,
        filters: Any = None,
        datasets: Optional[Union[str, Sequence[str]]] = None,
        project: str = "",
        measure: Union[str, int] = "count",
        variable: Optional[str] = None,
        timeout: Optional[float] = None,
    ) -> Table:
        """Asks for a protected table.

        `group_by`: one to three categorical variables, `dataset.column`
        (e.g. "duo.python.niveau"; a code-list column also as
        `dataset.column@level` or with subtotals, `dataset.column+level`).
        `filters`: keep only the persons matching every filter, given as a
        dict {variable: value or [values]}, or a list of (variable, values)
        or (variable, values, negate) tuples or of dicts with keys
        variable, values and negate; values are codes. `datasets`: further
        datasets the persons must appear in. `project`: the project the
        release is recorded under ("" is "default"). `measure`: "count"
        (distinct persons), "sum" or "mean" of the numeric `variable`
        (`dataset.column`). `timeout` overrides the client's.
        """
        if isinstance(group_by, str):
            group_by = [group_by]
        if isinstance(datasets, str):
            datasets = [datasets]
        request = release_pb2.TableRequest(
            group_by=list(group_by),
            filters=_filters(filters),
            datasets=list(datasets or []),
            project=project or "",
            measure=_measure(measure),
            variable=variable or "",
        )
        if request.measure in (release_pb2.MEASURE_KIND_SUM, release_pb2.MEASURE_KIND_MEAN) and not variable:
            raise ValueError("a sum or mean table needs a numeric variable (variable='dataset.column')")
        return Table(self._call(self._release.Tabulate, request, timeout=timeout))

    def linkage(
        self,
        datasets: Optional[Union[str, Sequence[str]]] = None,
        project: str = "",
        *,
        timeout: Optional[float] = None,
    ) -> pd.DataFrame:
        """Protected linkage figures: persons per dataset and persons linked
        between each pair, as a DataFrame with columns dataset, other (None
        for a dataset's own row), persons (rounded, NaN where withheld) and
        status. `datasets` default: the project's approved datasets (on a
        development server, all that hold data). The policy is in
        `frame.attrs["policy"]`.
        """
        if isinstance(datasets, str):
            datasets = [datasets]
        request = release_pb2.LinkageRequest(datasets=list(datasets or []), project=project or "")
        return linkage_frame(self._call(self._release.Linkage, request, timeout=timeout))

    # --- plumbing ---------------------------------------------------------

    def _call(self, method, request, timeout: Optional[float] = None):
        try:
            return method(request, timeout=timeout if timeout is not None else self.timeout)
        except grpc.RpcError as e:
            raise DdcError.from_rpc_error(e) from e


def _split_address(address: str):
    """("http" | "https" | None, "host:port")."""
    if not isinstance(address, str) or not address.strip():
        raise ValueError("give the server's address, e.g. '127.0.0.1:50051' or 'https://ddc.example.nl:443'")
    address = address.strip()
    scheme = None
    for s in ("http", "https"):
        if address.lower().startswith(s + "://"):
            scheme, address = s, address[len(s) + 3 :]
            break
    else:
        if "://" in address:
            raise ValueError(f"unknown scheme in {address!r}: use host:port, http://host:port or https://host:port")
    address = address.rstrip("/")
    if not address or "/" in address:
        raise ValueError(f"{address!r}: expected host:port, without a path")
    return scheme, address


def _read_pem(source, what: str) -> bytes:
    if isinstance(source, (bytes, bytearray)):
        return bytes(source)
    with open(os.fspath(source), "rb") as f:  # FileNotFoundError names the file
        return f.read()


def _measure(measure) -> int:
    if isinstance(measure, bool):
        raise TypeError("measure must be 'count', 'sum' or 'mean'")
    if isinstance(measure, int):
        return measure  # passed as is: a newer server may know more
    m = str(measure).lower().removeprefix("measure_kind_")
    if m not in _MEASURES:
        raise ValueError(f"measure must be 'count', 'sum' or 'mean', not {measure!r}")
    return _MEASURES[m]


def _values(values) -> List[str]:
    if isinstance(values, (str, int)):
        return [str(values)]
    return [str(v) for v in values]


def _filters(filters) -> List["release_pb2.Filter"]:
    if filters is None:
        return []
    if isinstance(filters, Mapping):
        return [release_pb2.Filter(variable=k, values=_values(v)) for k, v in filters.items()]
    out = []
    for f in filters:
        if isinstance(f, release_pb2.Filter):
            out.append(f)
        elif isinstance(f, Mapping):
            out.append(
                release_pb2.Filter(variable=f["variable"], values=_values(f["values"]), negate=bool(f.get("negate", False)))
            )
        elif isinstance(f, (tuple, list)) and len(f) in (2, 3):
            out.append(release_pb2.Filter(variable=f[0], values=_values(f[1]), negate=bool(f[2]) if len(f) == 3 else False))
        else:
            raise TypeError(
                "a filter is (variable, values), (variable, values, negate) or a dict with "
                f"variable, values and negate; got {f!r}"
            )
    return out
