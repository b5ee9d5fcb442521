"""The generated gRPC stubs, imported in one place.

They are generated from the repository's `proto/` when the package is built
(see setup.py) and live in `ddc_client._proto.ddc.v1`; their imports of one
another are relative, so nothing outside this package is needed.
"""

try:
    from ._proto.ddc.v1 import (  # noqa: F401
        common_pb2,
        ingest_pb2,
        ingest_pb2_grpc,
        release_pb2,
        release_pb2_grpc,
    )
except ModuleNotFoundError as e:  # pragma: no cover - only outside an installed package
    if not (e.name or "").startswith(__name__.rsplit(".", 1)[0] + "._proto"):
        raise
    raise ImportError(
        "ddc_client: the gRPC stubs are missing. They are generated when the package is "
        "built: install it (`pip install ./clients/python` from the repository root, or "
        "`pip install -e ./clients/python` to work on it) instead of importing it from "
        "the source directory."
    ) from e
