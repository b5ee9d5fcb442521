"""Python client of ddc, the privacy-preserving data-linkage service.

    from ddc_client import Client, categorical

    client = Client.connect("127.0.0.1:50051")        # a development server
    client.ensure_dataset("duo.python", "duo", "pgn", [categorical("niveau", ["havo", "vwo"])])
    receipt = client.upload("duo.python", "pupils.csv", replace=True)
    table = client.table("duo.python.niveau")
    table.long()     # one row per cell, margins flagged
    table.wide()     # a cross table with a Total row

Errors are `DdcError`s with `.code`, `.reason` and `.violations`. See the
README (clients/python/README.md) for mutual TLS, tables and use from R.
"""

from .client import Client, RowProblem, UploadReceipt
from .errors import DdcError, Violation, parse_field_path
from .schema import Dataset, categorical, code_list, decimal, integer, open_categorical
from .tables import LogReceipt, Table

__version__ = "0.1.0"

__all__ = [
    "Client",
    "DdcError",
    "Violation",
    "parse_field_path",
    "UploadReceipt",
    "RowProblem",
    "Table",
    "LogReceipt",
    "Dataset",
    "categorical",
    "open_categorical",
    "code_list",
    "integer",
    "decimal",
]
