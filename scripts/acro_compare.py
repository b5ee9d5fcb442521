#!/usr/bin/env python3
"""Compare ddc's disclosure decisions with ACRO's (the SACRO project's output checker).

Not part of CI. Needs `pip install acro` and a release build of ddc:

    cargo build --release
    python3 scripts/acro_compare.py [path/to/ddc]

It builds a few synthetic person-level tables with small cells, dominated
cells and p%-failing cells, asks ACRO (default policy, suppress=True) and a
ddc server (default policy, perturbation off so that values compare) for the
same crosstabs, and prints, cell by cell, where the two differ and why.
"""

import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import time

import pandas as pd
from acro import ACRO

DDC = sys.argv[1] if len(sys.argv) > 1 else "target/release/ddc"


def bsns(n, start=900_000_000):
    out, x = [], start
    while len(out) < n:
        d = [int(c) for c in f"{x:09d}"]
        if (sum((9 - i) * d[i] for i in range(8)) - d[8]) % 11 == 0:
            out.append(f"{x:09d}")
        x += 1
    return out


def synthetic(seed=7, n=1200):
    rng = random.Random(seed)
    rows = []
    for i, bsn in enumerate(bsns(n)):
        region = rng.choices(["noord", "oost", "zuid", "west", "eiland"], [30, 30, 25, 14, 1])[0]
        level = rng.choices(["vmbo", "havo", "vwo", "mbo"], [35, 25, 20, 20])[0]
        income = round(rng.lognormvariate(10.5, 0.4))
        rows.append({"bsn": bsn, "region": region, "level": level, "income": income})
    # A dominated cell and a p%-failing cell.
    rows[0].update(region="west", level="vwo", income=5_000_000)
    rows[1].update(region="west", level="havo", income=900_000)
    rows[2].update(region="west", level="havo", income=850_000)
    return pd.DataFrame(rows)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ddc(*args, server):
    out = subprocess.run([DDC, *args, "--server", server], check=True, capture_output=True, text=True)
    return out.stdout


def ddc_table(server, measure=None):
    args = ["table", "--by", "cbs.cmp.level", "--by", "cbs.cmp.region", "--format", "json"]
    if measure:
        args += [f"--{measure}", "cbs.cmp.income"]
    return json.loads(ddc(*args, server=server))


def acro_table(acro, df, measure=None):
    if measure:
        return acro.crosstab(df.level, df.region, values=df.income, aggfunc=measure)
    return acro.crosstab(df.level, df.region)


def compare(name, acro_df, ddc_json):
    print(f"\n== {name}")
    differ = 0
    for cell in ddc_json["cells"]:
        level = cell["coordinates"]["cbs.cmp.level"]
        region = cell["coordinates"]["cbs.cmp.region"]
        if level is None or region is None:
            continue  # ACRO's crosstab here has no margins
        try:
            acro_value = acro_df.loc[level, region]
        except KeyError:
            acro_value = float("nan")  # ACRO omits empty combinations
        acro_withheld = pd.isna(acro_value)
        ddc_withheld = cell["status"] != "released"
        if acro_withheld != ddc_withheld:
            differ += 1
            print(f"  {level:>5} × {region:<7} ACRO {'withheld' if acro_withheld else 'released'}, "
                  f"ddc {cell['status']}")
    print(f"  {differ} interior cells differ")


def main():
    df = synthetic()
    acro = ACRO(suppress=True)
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        server = f"http://127.0.0.1:{port}"
        master = f"{tmp}/master.key"
        subprocess.run([DDC, "keys", "init", "--key-dir", f"{tmp}/keys", "--master-key-file", master,
                        "--new-master-key"], check=True, capture_output=True)
        proc = subprocess.Popen([DDC, "serve", "--data-dir", f"{tmp}/data", "--key-dir", f"{tmp}/keys",
                                 "--master-key-file", master,
                                 "--listen", f"127.0.0.1:{port}", "--no-perturbation"],
                                stderr=subprocess.DEVNULL)
        try:
            time.sleep(1.0)
            ddc("dataset", "create", "cbs.cmp", "--identifier", "bsn",
                "--column", "region:cat:noord,oost,zuid,west,eiland",
                "--column", "level:cat:vmbo,havo,vwo,mbo", "--column", "income:int", server=server)
            path = os.path.join(tmp, "cmp.csv")
            df.to_csv(path, index=False)
            ddc("upload", "--dataset", "cbs.cmp", path, server=server)
            os.remove(path)
            compare("counts level × region", acro_table(acro, df), ddc_table(server))
            compare("mean income level × region", acro_table(acro, df, "mean"), ddc_table(server, "mean"))
            compare("sum income level × region", acro_table(acro, df, "sum"), ddc_table(server, "sum"))
        finally:
            proc.terminate()
            proc.wait()


if __name__ == "__main__":
    main()
