"""A minimal Python client for ddc, generated from proto/ with grpcio-tools.

    python -m pip install grpcio-tools grpcio-status
    python -m grpc_tools.protoc -I ../../proto --python_out=. --grpc_python_out=. \
        ../../proto/ddc/v1/common.proto ../../proto/ddc/v1/ingest.proto ../../proto/ddc/v1/release.proto
    python ddc_client.py 127.0.0.1:50051 pupils.csv

Declares a small dataset, uploads a CSV file (header `pgn,niveau`) and prints
a protected table. Row errors arrive as google.rpc.BadRequest details.
"""

import hashlib
import sys
import uuid

import grpc
from grpc_status import rpc_status
from google.rpc import error_details_pb2

from ddc.v1 import common_pb2, ingest_pb2, ingest_pb2_grpc, release_pb2, release_pb2_grpc

CHUNK = 1 << 20  # the server accepts messages up to 4 MiB


def upload_requests(dataset, path, upload_id):
    """Header, the file in chunks, and the closing UploadEnd (byte count and
    SHA-256) without which ddc stores nothing."""
    header = ingest_pb2.UploadHeader(dataset=dataset, upload_id=upload_id, replace=True)
    yield ingest_pb2.UploadRequest(header=header)
    digest, size = hashlib.sha256(), 0
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
            yield ingest_pb2.UploadRequest(chunk=chunk)
    yield ingest_pb2.UploadRequest(end=ingest_pb2.UploadEnd(bytes=size, sha256=digest.digest()))


def explain(error):
    status = rpc_status.from_call(error)
    print(f"{error.code().name}: {error.details()}")
    for detail in status.details if status else []:
        bad = error_details_pb2.BadRequest()
        if detail.Unpack(bad):
            for v in bad.field_violations:
                print(f"  {v.field}: {v.description}")


def main(address, csv_path):
    channel = grpc.insecure_channel(address)
    ingest = ingest_pb2_grpc.IngestStub(channel)
    release = release_pb2_grpc.ReleaseStub(channel)
    schema = common_pb2.Schema(
        identifier_column="pgn",
        columns=[common_pb2.Column(name="niveau", categorical=common_pb2.Categorical(categories=["havo", "vwo"]))],
    )
    try:
        ingest.CreateDataset(ingest_pb2.CreateDatasetRequest(name="duo.python", organisation="duo", schema=schema))
        # A retry after a lost connection reuses the id: ddc stores it at most once.
        receipt = ingest.Upload(upload_requests("duo.python", csv_path, uuid.uuid4().hex))
        print(f"stored {receipt.rows_stored} of {receipt.rows_read} rows")
        table = release.Tabulate(release_pb2.TableRequest(group_by=["duo.python.niveau"]))
    except grpc.RpcError as error:
        explain(error)
        return 1
    labels = list(table.dimensions[0].categories)
    for cell in table.cells:
        i = cell.coordinates[0]
        name = labels[i] if i >= 0 else "Total"
        shown = cell.count if cell.HasField("count") else release_pb2.CellStatus.Name(cell.status)
        print(f"{name:>8}  {shown}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
