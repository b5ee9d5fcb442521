"""The worked example of the README, as a script.

    python example.py [ADDRESS]

ADDRESS defaults to $DDC_SERVER, else 127.0.0.1:50051 (a development server:
`ddc serve --insecure-plaintext-dev`). For a TLS server set DDC_TLS_CA,
DDC_TLS_CERT and DDC_TLS_KEY, as for the ddc CLI.

DUO declares `duo.python` (pgn, niveau) and uploads pupils.csv; CBS declares
`cbs.python` (pgn, regio, inkomen) and uploads incomes.csv; then an analyst
asks for protected tables over the linked data. It can run any number of
times: the datasets are declared once (`ensure_dataset`) and each upload
replaces the data (`replace=True`).
"""

import os
import sys
from pathlib import Path

import pandas as pd

from ddc_client import Client, DdcError, categorical, integer

HERE = Path(__file__).resolve().parent


def main(argv):
    address = argv[1] if len(argv) > 1 else os.environ.get("DDC_SERVER", "127.0.0.1:50051")
    pupils, incomes = HERE / "pupils.csv", HERE / "incomes.csv"
    for sample in (pupils, incomes):
        if not sample.is_file():
            print(
                f"example: the sample file {sample} is missing; "
                f"write it with `python {HERE / 'make_samples.py'}`",
                file=sys.stderr,
            )
            return 2
    pd.set_option("display.width", 120)
    client = Client.connect(
        address,
        ca=os.environ.get("DDC_TLS_CA"),
        cert=os.environ.get("DDC_TLS_CERT"),
        key=os.environ.get("DDC_TLS_KEY"),
    )
    with client:
        try:
            run(client, pupils, incomes)
        except DdcError as e:
            print(f"example: the server refused: {e}", file=sys.stderr)
            return 1
    return 0


def run(client, pupils, incomes):
    # Data holders: declare (once) and upload (replacing the previous data).
    client.ensure_dataset(
        "duo.python", "duo", "pgn", [categorical("niveau", ["pro", "vmbo", "havo", "vwo"])]
    )
    client.ensure_dataset(
        "cbs.python",
        "cbs",
        "pgn",
        [categorical("regio", ["noord", "oost", "zuid", "west"]), integer("inkomen")],
    )
    for dataset, path in (("duo.python", pupils), ("cbs.python", incomes)):
        receipt = client.upload(dataset, path, replace=True)
        print(f"{dataset}: stored {receipt.rows_stored} of {receipt.rows_read} rows as version {receipt.version}")

    # Analyst: pupils by niveau, one row per cell.
    table = client.table("duo.python.niveau")
    print(f"\nrelease {table.release}, threshold {table.policy['threshold']} persons")
    print(table.long()[["niveau", "value", "status", "is_total"]])

    # The same as a column, and each niveau's share of all pupils.
    wide = table.wide()
    shares = (100 * wide["value"] / wide.loc["Total", "value"]).round(1)
    print("\nshare of pupils (%):")
    print(shares.to_string())

    # Linked: niveau by the region CBS has for the same persons.
    cross = client.table(["duo.python.niveau", "cbs.python.regio"])
    print("\npupils by niveau and regio (linked with CBS):")
    print(cross.wide())
    print("\nshare of each niveau per regio (%):")
    print((100 * cross.wide().div(cross.wide().loc["Total"], axis=1)).round(1))

    # A mean, and how the datasets link.
    mean = client.table("duo.python.niveau", measure="mean", variable="cbs.python.inkomen")
    print("\nmean income by niveau:")
    print(mean.wide().round(0))
    print("\nlinkage:")
    print(client.linkage(["duo.python", "cbs.python"]))


if __name__ == "__main__":
    sys.exit(main(sys.argv))
