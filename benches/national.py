#!/usr/bin/env python3
"""ddc at population scale, side by side with pandas and DuckDB.

Generates a synthetic national workload (CBS persons with households, DUO
students, about 95% of DUO linked to CBS), runs the release `ddc` binary as
a server and as its own CLI processes, measures every step a user would
wait for, runs the peers (pandas: read, HMAC, to_sql; DuckDB: join and
GROUP BY CUBE, no disclosure control) on the same files, and writes
BENCHMARKS.md. Run it through `benches/run` (which builds ddc and makes the
virtual environment); the test suite does not need it.

All identifiers are synthetic: valid BSNs and onderwijsnummers from
consecutive number ranges, written to the work directory only. Nothing
here prints an identifier.
"""

import argparse
import concurrent.futures
import hashlib
import hmac
import json
import os
import platform
import secrets
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

PROVINCES = ["groningen", "friesland", "drenthe", "overijssel", "flevoland", "gelderland",
             "utrecht", "noord_holland", "zuid_holland", "zeeland", "noord_brabant", "limburg"]
PROVINCE_WEIGHTS = [3.4, 3.7, 2.8, 6.7, 2.5, 12.1, 7.8, 16.5, 21.3, 2.2, 14.7, 6.3]
SECTORS = {"po": ["groep_8"], "vo": ["vmbo_bk", "vmbo_gt", "havo", "vwo"],
           "mbo": ["mbo_1", "mbo_2", "mbo_3", "mbo_4"], "ho": ["ad", "bachelor", "master"],
           "vavo": ["vavo"]}
SECTOR_WEIGHTS = [0.30, 0.27, 0.22, 0.20, 0.01]
AGES = ["0-14", "15-24", "25-44", "45-64", "65+"]
MIGRATION = ["nederland", "europa", "buiten_europa"]


def log(text):
    print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- workload

def valid_numbers(prefixes, remainder):
    """9-digit numbers from 8-digit prefixes whose weighted sum (9..2, -1) is
    `remainder` mod 11 (0: BSN, 5: onderwijsnummer)."""
    digits = np.stack([(prefixes // 10 ** (7 - i)) % 10 for i in range(8)])
    weighted = sum(int(9 - i) * digits[i] for i in range(8))
    check = (weighted - remainder) % 11
    ok = check < 10
    return prefixes[ok] * 10 + check[ok]


def generate(work, persons, students, seed):
    rng = np.random.default_rng(seed)
    # CBS: consecutive BSN prefixes from 20,000,000 (about 10 in 11 valid).
    bsns = valid_numbers(np.arange(20_000_000, 20_000_000 + persons * 12 // 10 + 1000), 0)
    cbs_ids, spare = bsns[:persons], bsns[persons:]
    sizes = rng.choice([1, 2, 3, 4, 5], size=persons, p=[0.38, 0.30, 0.13, 0.13, 0.06])
    household = np.repeat(np.arange(persons), sizes)[:persons]
    households = household[-1] + 1
    income = np.exp(rng.normal(10.6, 0.55, households)).astype(np.int64)
    income[rng.choice(households, 25, replace=False)] = rng.integers(5_000_000, 40_000_000, 25)
    decile_of_household = np.searchsorted(np.quantile(income, np.linspace(0.1, 0.9, 9)), income) + 1
    order = rng.permutation(persons)
    cbs = pd.DataFrame({
        "bsn": cbs_ids[order],
        "huishouden": household[order],
        "geslacht": rng.choice(["m", "v"], persons),
        "leeftijd": rng.choice(AGES, persons, p=[0.16, 0.12, 0.25, 0.27, 0.20]),
        "migratie": rng.choice(MIGRATION, persons, p=[0.75, 0.10, 0.15]),
        "provincie": rng.choice(PROVINCES, persons, p=np.array(PROVINCE_WEIGHTS) / 100),
        "decile": decile_of_household[household[order]],
        "huishoudinkomen": income[household[order]],
    })
    cbs.to_csv(work / "cbs.csv", index=False)
    # DUO: 95% of students are CBS persons, 4% BSNs CBS lacks, 1%
    # onderwijsnummers; levels in vo follow the household's decile.
    linked = int(students * 0.95)
    others = students - linked - students // 100
    onderwijs = valid_numbers(np.arange(10_000_000, 10_000_000 + students // 100 * 12 + 100), 5)
    pick = rng.choice(persons, linked, replace=False)
    ids = np.concatenate([cbs_ids[pick], spare[:others], onderwijs[: students // 100]])
    deciles = np.concatenate([decile_of_household[household[pick]],
                              rng.integers(1, 11, students - linked)])
    sector = rng.choice(list(SECTORS), students, p=SECTOR_WEIGHTS)
    niveau = np.empty(students, dtype=object)
    for name, levels in SECTORS.items():
        at = sector == name
        if name == "vo":
            # Higher deciles reach havo/vwo more often.
            up = rng.random(at.sum()) < 0.15 + 0.06 * deciles[at]
            niveau[at] = np.where(up, rng.choice(["havo", "vwo"], at.sum()),
                                  rng.choice(["vmbo_bk", "vmbo_gt"], at.sum()))
        else:
            niveau[at] = rng.choice(levels, at.sum())
    order = rng.permutation(students)
    duo = pd.DataFrame({
        "pgn": ids[order], "sector": sector[order], "niveau": niveau[order],
        "leerjaar": rng.integers(1, 7, students),
        "provincie": rng.choice(PROVINCES, students, p=np.array(PROVINCE_WEIGHTS) / 100),
        "diploma": rng.choice(["j", "n"], students, p=[0.3, 0.7]),
    })
    duo.to_csv(work / "duo.csv", index=False)
    return {"persons": persons, "households": int(households), "students": students}


# ---------------------------------------------------------------- ddc

class Server:
    """`ddc serve` as a child process over a data and key directory."""

    def __init__(self, ddc, data, keys, env, threads):
        self.ddc, self.data, self.keys, self.env, self.threads = ddc, data, keys, env, threads
        self.proc = None

    def start(self):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        started = time.perf_counter()
        self.proc = subprocess.Popen(
            [self.ddc, "serve", "--insecure-plaintext-dev", "--listen", f"127.0.0.1:{port}",
             "--data-dir", self.data, "--key-dir", self.keys, "--parallelism", str(self.threads)],
            env=self.env, stdout=subprocess.DEVNULL, stderr=open(Path(self.data).parent / "server.log", "a"))
        return started

    def memory(self):
        """Peak and current resident memory, bytes."""
        fields = {}
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmHWM", "VmRSS"):
                fields[key] = int(value.split()[0]) * 1024
        return fields["VmHWM"], fields["VmRSS"]

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=120)


def ddc_cli(ddc, env, *args, check=True):
    out = subprocess.run([ddc, *args], env=env, capture_output=True, text=True)
    if check and out.returncode != 0:
        raise SystemExit(f"ddc {args[0]} failed ({out.returncode}): {out.stderr.strip()[:400]}")
    return out


def wait_serving(ddc, env, url, deadline=300):
    end = time.time() + deadline
    while time.time() < end:
        if ddc_cli(ddc, env, "health", "--server", url, check=False).returncode == 0:
            return
        time.sleep(0.05)
    raise SystemExit("the server did not start")


def release_bytes(data):
    """Bytes the store keeps for its releases: records, cell-print sets and
    the references to them (read from the database, as the WAL does not
    shrink or grow with each commit)."""
    with sqlite3.connect(f"file:{data}/ddc.sqlite?mode=ro", uri=True) as conn:
        return conn.execute(
            """SELECT (SELECT coalesce(sum(length(request) + length(policy) + length(cells)), 0) FROM releases)
                    + (SELECT coalesce(sum(length(cells) + length(digest) + length(datasets)), 0) FROM cell_sets)
                    + 16 * (SELECT count(*) FROM release_cell_sets)""").fetchone()[0]


def dir_bytes(path):
    return sum(f.stat().st_size for f in Path(path).rglob("*") if f.is_file())


COUNT3 = ["--by", "duo.inschrijvingen.niveau", "--by", "cbs.personen.decile",
          "--by", "cbs.personen.geslacht", "--where", "duo.inschrijvingen.sector=vo"]
MEAN2 = ["--by", "duo.inschrijvingen.sector", "--by", "cbs.personen.migratie",
         "--mean", "cbs.personen.huishoudinkomen"]


def table(ddc, env, url, spec):
    started = time.perf_counter()
    out = ddc_cli(ddc, env, "table", *spec, "--format", "json", "--server", url, check=False)
    seconds = time.perf_counter() - started
    if out.returncode != 0:
        return seconds, {"refused": out.stderr.strip().splitlines()[-1][:200]}
    t = json.loads(out.stdout)
    withheld = sum(1 for c in t["cells"] if c["status"] != "released")
    return seconds, {"cells": len(t["cells"]), "withheld": withheld}


def declare(ddc, env, url, work):
    """Declares both datasets and DUO's code lists on the server at `url`."""
    ddc_cli(ddc, env, "dataset", "create", "cbs.personen", "--identifier", "bsn",
            "--household", "huishouden", "--column", "geslacht:cat:m,v",
            "--column", "leeftijd:cat:" + ",".join(AGES),
            "--column", "migratie:cat:" + ",".join(MIGRATION),
            "--column", "provincie:cat:" + ",".join(PROVINCES),
            "--column", "decile:cat:" + ",".join(str(d) for d in range(1, 11)),
            "--column", "huishoudinkomen:int:household", "--server", url)
    # Sector and level on code lists, the level list under the sector list,
    # as DUO publishes them: a table of vo levels then has no other
    # sectors' levels as zeros to protect.
    (work / "sectoren.csv").write_text("code,label\n" + "".join(f"{c},{c}\n" for c in SECTORS))
    (work / "niveaus.csv").write_text("code,label,parent\n" + "".join(
        f"{lv},{lv},{sector}\n" for sector, levels in SECTORS.items() for lv in levels))
    ddc_cli(ddc, env, "codelist", "create", "onderwijssector", "--file", str(work / "sectoren.csv"),
            "--server", url)
    ddc_cli(ddc, env, "codelist", "create", "onderwijsniveau", "--file", str(work / "niveaus.csv"),
            "--parent", "onderwijssector", "--server", url)
    ddc_cli(ddc, env, "dataset", "create", "duo.inschrijvingen", "--identifier", "pgn",
            "--column", "sector:list:onderwijssector", "--column", "niveau:list:onderwijsniveau",
            "--column", "leerjaar:cat:1,2,3,4,5,6", "--column", "provincie:cat:" + ",".join(PROVINCES),
            "--column", "diploma:cat:j,n", "--server", url)


def timed_upload(ddc, env, url, work, dataset, file, replace=False):
    """Uploads `file` (read once before, so that it is in the page cache)
    with the CLI; returns the seconds it took and the receipt."""
    warm(work / file)
    started = time.perf_counter()
    out = ddc_cli(ddc, env, "upload", "--dataset", dataset, str(work / file),
                  *(["--replace"] if replace else []), "--format", "json", "--server", url)
    return time.perf_counter() - started, json.loads(out.stdout)


def upload_rounds(args, work, ddc, env):
    """The first uploads (DUO, then CBS) in rounds of their own before the
    main one, each into a fresh store: a single upload's time moves with the
    machine's load by a quarter and more, so the report gives the median
    over all rounds."""
    seconds = {"duo": [], "cbs": []}
    for i in range(args.upload_runs - 1):
        round_dir = work / "round"
        shutil.rmtree(round_dir, ignore_errors=True)
        data, keys = str(round_dir / "data"), str(round_dir / "data.keys")
        ddc_cli(ddc, env, "keys", "init", "--key-dir", keys)
        server = Server(ddc, data, keys, env, args.threads)
        server.start()
        wait_serving(ddc, env, server.url)
        declare(ddc, env, server.url, work)
        for name, dataset, file in [("duo", "duo.inschrijvingen", "duo.csv"), ("cbs", "cbs.personen", "cbs.csv")]:
            taken, _ = timed_upload(ddc, env, server.url, work, dataset, file)
            seconds[name].append(taken)
            log(f"round {i + 1}: upload {name} in {taken:.1f} s")
        server.stop()
        shutil.rmtree(round_dir, ignore_errors=True)
    return seconds


def run_ddc(args, work):
    ddc = str(Path(args.ddc).resolve())
    data, keys = str(work / "data"), str(work / "data.keys")
    # A master key from the environment keeps the data directory usable
    # after the run (for profiling); otherwise a throwaway one.
    master = os.environ.get("DDC_MASTER_KEY") or secrets.token_hex(32)
    env = dict(os.environ, DDC_MASTER_KEY=master, DDC_TIMEOUT="600")
    env.pop("DDC_SERVER", None)
    rounds = upload_rounds(args, work, ddc, env)
    ddc_cli(ddc, env, "keys", "init", "--key-dir", keys)
    server = Server(ddc, data, keys, env, args.threads)
    server.start()
    wait_serving(ddc, env, server.url)
    url, r = server.url, {}
    declare(ddc, env, url, work)
    # The first uploads alone, as pandas runs; then CBS again (every person
    # known) while an analyst keeps asking a table of DUO.
    for name, dataset, file, replace in [("duo", "duo.inschrijvingen", "duo.csv", False),
                                         ("cbs", "cbs.personen", "cbs.csv", False),
                                         ("cbs_again", "cbs.personen", "cbs.csv", True)]:
        analyst = TablesMeanwhile(ddc, env, url) if replace else None
        seconds, receipt = timed_upload(ddc, env, url, work, dataset, file, replace)
        if analyst:
            r["tables_during_upload"] = analyst.stop()
            log(f"tables during the second CBS upload: {r['tables_during_upload']}")
        peak, _ = server.memory()
        runs = rounds.get(name, []) + [seconds]
        r[f"upload_{name}"] = {"seconds": statistics.median(runs), "runs": runs,
                               "rows": receipt["rows_stored"], "peak_bytes": peak}
        log(f"upload {name}: {receipt['rows_stored']:,} rows in {seconds:.1f} s "
            f"(median of {len(runs)}: {statistics.median(runs):.1f} s), peak {peak / 2**30:.2f} GiB")
    # Right after the upload the new pseudonyms are still joining the index
    # on a thread of their own; the steady figure is taken after the tables.
    r["rss_after_upload_bytes"] = server.memory()[1]
    r["data_dir_bytes"] = dir_bytes(data)
    for name, spec in [("count3", COUNT3), ("mean2", MEAN2)]:
        before = release_bytes(data)
        runs, result = [], None
        for i in range(args.runs):
            seconds, result = table(ddc, env, url, spec)
            runs.append(seconds)
            if i == 0:
                first = release_bytes(data)
        repeats = max(args.runs - 1, 1)
        r[name] = {"runs": runs, "median": statistics.median(runs), **result,
                   "first_release_bytes": first - before,
                   "repeat_release_bytes": (release_bytes(data) - first) / repeats}
        log(f"{name}: median {statistics.median(runs) * 1000:.0f} ms, {result}")
    r["loaded_rss_bytes"] = server.memory()[1]
    r["concurrency"] = concurrency(ddc, env, url, args.clients, args.concurrency_seconds)
    log(f"concurrency: {r['concurrency']}")
    server.stop()
    started = server.start()
    wait_serving(ddc, env, server.url)
    serving = time.perf_counter() - started
    seconds, result = table(ddc, env, server.url, COUNT3)
    r["cold_start"] = {"serving_seconds": serving, "first_table_seconds": time.perf_counter() - started,
                       "first_table": result, "peak_bytes": server.memory()[0]}
    log(f"cold start: serving after {serving:.1f} s, first table after {r['cold_start']['first_table_seconds']:.1f} s")
    started = time.perf_counter()
    out = ddc_cli(ddc, env, "keys", "rotate", "--server", server.url)
    r["rotation"] = {"seconds": time.perf_counter() - started, "said": out.stdout.strip()}
    log(f"rotation: {r['rotation']['seconds']:.1f} s")
    server.stop()
    return r


class TablesMeanwhile:
    """One analyst asking a small table of DUO, one after another, until stopped."""

    SPEC = ["--by", "duo.inschrijvingen.provincie", "--where", "duo.inschrijvingen.sector=vo"]

    def __init__(self, ddc, env, url):
        self.latencies, self.errors = [], 0
        self.done = threading.Event()
        self.thread = threading.Thread(target=self.run, args=(ddc, env, url))
        self.thread.start()

    def run(self, ddc, env, url):
        while not self.done.is_set():
            started = time.perf_counter()
            out = ddc_cli(ddc, env, "table", *self.SPEC, "--format", "json", "--server", url, check=False)
            self.latencies.append(time.perf_counter() - started)
            self.errors += out.returncode != 0
            self.done.wait(0.2)

    def stop(self):
        self.done.set()
        self.thread.join()
        latencies = sorted(self.latencies)
        return {"tables": len(latencies), "errors": self.errors,
                "p50": latencies[len(latencies) // 2] if latencies else None,
                "max": latencies[-1] if latencies else None}


def concurrency(ddc, env, url, clients, seconds):
    """`clients` CLI processes at a time asking small tables for `seconds`."""
    specs = [["--by", "duo.inschrijvingen.provincie", "--where", f"duo.inschrijvingen.sector={s}"]
             for s in ("po", "vo", "mbo", "ho")] + [["--by", "cbs.personen.leeftijd"]]
    end = time.time() + seconds

    def client(i):
        latencies, refused, errors, n = [], 0, 0, i
        while time.time() < end:
            started = time.perf_counter()
            out = ddc_cli(ddc, env, "table", *specs[n % len(specs)], "--format", "json",
                          "--server", url, check=False)
            latencies.append(time.perf_counter() - started)
            n += 1
            if out.returncode == 4:
                refused += 1
            elif out.returncode != 0:
                errors += 1
        return latencies, refused, errors

    with concurrent.futures.ThreadPoolExecutor(clients) as pool:
        results = list(pool.map(client, range(clients)))
    latencies = sorted(x for r in results for x in r[0])
    return {"clients": clients, "seconds": seconds, "tables": len(latencies),
            "per_second": len(latencies) / seconds,
            "p50": latencies[len(latencies) // 2], "p99": latencies[int(len(latencies) * 0.99)],
            "refused": sum(r[1] for r in results), "errors": sum(r[2] for r in results)}


# ---------------------------------------------------------------- peers

def warm(path):
    """Reads `path` once, so that the timed step after it finds the file in
    the page cache (the machine's memory reclaim may have evicted it, and a
    cold read of the CBS file took a minute): neither side waits on the disk."""
    with open(path, "rb") as f:
        while f.read(1 << 24):
            pass


def pandas_upload(path, id_column, key, work):
    """read_csv, HMAC-SHA256 per identifier (prepared key state copied per
    identifier, the faster of the two idioms), to_sql into a fresh file."""
    db = work / "peer.sqlite"
    db.unlink(missing_ok=True)
    started = time.perf_counter()
    df = pd.read_csv(path, dtype=str)
    prepared = hmac.new(key, digestmod=hashlib.sha256)

    def pseudonym(value):
        h = prepared.copy()
        h.update(value.encode())
        return h.hexdigest()

    df[id_column] = [pseudonym(v) for v in df[id_column]]
    with sqlite3.connect(db) as conn:
        df.to_sql("t", conn, index=False, chunksize=100_000)
        conn.commit()
    return time.perf_counter() - started, len(df)


def run_peers(args, work):
    key = secrets.token_bytes(32)
    r = {"versions": {"python": platform.python_version(), "pandas": pd.__version__,
                      "duckdb": duckdb.__version__, "numpy": np.__version__}}
    for name, file, column in [("duo", "duo.csv", "pgn"), ("cbs", "cbs.csv", "bsn")]:
        runs = []
        for _ in range(args.peer_runs):
            warm(work / file)
            seconds, rows = pandas_upload(work / file, column, key, work)
            runs.append(seconds)
        r[f"pandas_{name}"] = {"runs": runs, "median": statistics.median(runs), "rows": rows}
        log(f"pandas {name}: median {statistics.median(runs):.1f} s")
    (work / "peer.sqlite").unlink(missing_ok=True)
    con = duckdb.connect()
    started = time.perf_counter()
    con.execute(f"""CREATE TABLE cbs AS SELECT * FROM read_csv('{work / 'cbs.csv'}', header=true,
        columns={{'bsn':'BIGINT','huishouden':'BIGINT','geslacht':'VARCHAR','leeftijd':'VARCHAR',
                  'migratie':'VARCHAR','provincie':'VARCHAR','decile':'INTEGER','huishoudinkomen':'BIGINT'}})""")
    con.execute(f"""CREATE TABLE duo AS SELECT * FROM read_csv('{work / 'duo.csv'}', header=true,
        columns={{'pgn':'BIGINT','sector':'VARCHAR','niveau':'VARCHAR','leerjaar':'INTEGER',
                  'provincie':'VARCHAR','diploma':'VARCHAR'}})""")
    r["duckdb_load_seconds"] = time.perf_counter() - started
    r["duckdb_threads"] = con.execute("SELECT current_setting('threads')").fetchone()[0]
    queries = {
        "count3": """SELECT d.niveau, c.decile, c.geslacht, count(*) FROM duo d JOIN cbs c
                     ON d.pgn = c.bsn WHERE d.sector = 'vo' GROUP BY CUBE (d.niveau, c.decile, c.geslacht)""",
        "mean2": """SELECT d.sector, c.migratie, avg(c.huishoudinkomen) FROM duo d JOIN cbs c
                    ON d.pgn = c.bsn GROUP BY CUBE (d.sector, c.migratie)""",
    }
    for name, sql in queries.items():
        con.execute(sql).fetchall()
        runs = []
        for _ in range(args.runs):
            started = time.perf_counter()
            cells = len(con.execute(sql).fetchall())
            runs.append(time.perf_counter() - started)
        r[f"duckdb_{name}"] = {"runs": runs, "median": statistics.median(runs), "cells": cells}
        log(f"duckdb {name}: median {statistics.median(runs) * 1000:.0f} ms")
    return r


# ---------------------------------------------------------------- report

def machine():
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo")
                if line.startswith("model name")), platform.processor())
    mem = next(int(line.split()[1]) * 1024 for line in open("/proc/meminfo") if line.startswith("MemTotal"))
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                            cwd=Path(__file__).parent).stdout.strip()
    return {"cores": os.cpu_count(), "cpu": cpu, "memory_bytes": mem, "commit": commit,
            "date": time.strftime("%Y-%m-%d")}


def shown_args():
    """The command line as given to benches/run (without the binary)."""
    out, skip = [], False
    for a in sys.argv[1:]:
        if skip or a == "--ddc":
            skip = not skip
            continue
        out.append(a)
    return out


def report(args, m, w, d, p):
    national = w["persons"] >= 18_000_000
    gib = 2 ** 30

    def verdict(ok):
        return ("met" if ok else "**not met**") if national else "(scaled run)"

    def runs_of(upload):
        runs = upload.get("runs", [])
        return f" (median of {', '.join(f'{x:.1f}' for x in runs)})" if len(runs) > 1 else ""

    def ratio(peer, mine):
        return f"{peer / mine:.1f}×" if mine > 0 else "-"

    rows = [
        ("upload DUO, CLI to committed", f"{d['upload_duo']['seconds']:.1f} s{runs_of(d['upload_duo'])}",
         f"pandas {p['pandas_duo']['median']:.1f} s", ratio(p['pandas_duo']['median'], d['upload_duo']['seconds']),
         "≥ 10× pandas", verdict(p['pandas_duo']['median'] / d['upload_duo']['seconds'] >= 10)),
        ("upload CBS, CLI to committed", f"{d['upload_cbs']['seconds']:.1f} s{runs_of(d['upload_cbs'])}",
         f"pandas {p['pandas_cbs']['median']:.1f} s", ratio(p['pandas_cbs']['median'], d['upload_cbs']['seconds']),
         "≥ 10× pandas", verdict(p['pandas_cbs']['median'] / d['upload_cbs']['seconds'] >= 10)),
        *([("upload CBS again (`--replace`, every person known), while an analyst asks tables",
            f"{d['upload_cbs_again']['seconds']:.1f} s", "", "", "", "")] if "upload_cbs_again" in d else []),
        ("3-way count, full disclosure control", f"{d['count3']['median'] * 1000:.0f} ms",
         f"DuckDB {p['duckdb_count3']['median'] * 1000:.0f} ms",
         ratio(p['duckdb_count3']['median'], d['count3']['median']), "≥ 5× DuckDB",
         verdict(p['duckdb_count3']['median'] / d['count3']['median'] >= 5)),
        ("2-way mean, full disclosure control", f"{d['mean2']['median'] * 1000:.0f} ms",
         f"DuckDB {p['duckdb_mean2']['median'] * 1000:.0f} ms",
         ratio(p['duckdb_mean2']['median'], d['mean2']['median']), "≥ 5× DuckDB",
         verdict(p['duckdb_mean2']['median'] / d['mean2']['median'] >= 5)),
        ("server peak memory, first national upload", f"{d['upload_cbs']['peak_bytes'] / gib:.2f} GiB", "", "",
         "< 4 GiB", verdict(d['upload_cbs']['peak_bytes'] < 4 * gib)),
        ("server memory, both datasets loaded (after the tables above)",
         f"{d['loaded_rss_bytes'] / gib:.2f} GiB ({d['rss_after_upload_bytes'] / gib:.2f} GiB right after "
         "the upload)", "", "",
         "< 2 GiB", verdict(d['loaded_rss_bytes'] < 2 * gib)),
        ("cold start to first table", f"{d['cold_start']['first_table_seconds']:.1f} s "
         f"(serving after {d['cold_start']['serving_seconds']:.1f} s)", "", "", "< 3 s",
         verdict(d['cold_start']['first_table_seconds'] < 3)),
        ("storage per release of the 3-way count: the first, then each identical repeat",
         f"{d['count3']['first_release_bytes'] / 1024:.1f} KB, then "
         f"{d['count3']['repeat_release_bytes'] / 1024:.1f} KB (its record and a reference)",
         "", "", "a repeat costs a reference", ""),
        ("key rotation over all persons", f"{d['rotation']['seconds']:.1f} s", "", "", "< 30 s",
         verdict(d['rotation']['seconds'] < 30)),
    ]
    c = d["concurrency"]
    lines = [
        "# Benchmarks", "",
        f"Written by `benches/run {' '.join(shown_args())}` on {m['date']} at commit `{m['commit']}`: "
        f"{m['cores']} cores ({m['cpu']}), {m['memory_bytes'] / gib:.0f} GiB. The machine may have been "
        "busy with other work; figures are medians of the runs.", "",
        f"Workload: {w['persons']:,} CBS persons in {w['households']:,} households, {w['students']:,} DUO "
        "students (95% of them at CBS); synthetic. ddc runs as a release build, `ddc serve` in one process "
        f"(`--parallelism {args.threads}`) and each upload and table as its own `ddc` CLI process, so the "
        "tables' times include starting the CLI. The peers run in this script's process on the same files: "
        "pandas `read_csv` + Python `hmac` + `to_sql` into SQLite, and DuckDB's join with `GROUP BY CUBE` "
        "(integer identifiers, no disclosure control). DUO uploads first and CBS second, as pandas runs, "
        "alone; each file is read once before each timed upload (ddc's and pandas's alike), so that "
        f"neither waits on the disk. The first uploads run in {args.upload_runs} rounds, each into a fresh "
        "store (the last one's goes on with the steps below); their times are the medians.", "",
        "| step | ddc | peer | peer ÷ ddc | target (issue 13) | |", "|---|---|---|---|---|---|",
        *[f"| {' | '.join(r)} |" for r in rows], "",
        f"Concurrency: {c['clients']} CLI clients asking small one-way tables for {c['seconds']} s: "
        f"{c['per_second']:.1f} tables/s, p50 {c['p50'] * 1000:.0f} ms, p99 {c['p99'] * 1000:.0f} ms, "
        f"{c['refused']} refused by disclosure control, {c['errors']} errors.", "",
        *during_upload(d), 
        f"Tables: 3-way count {d['count3'].get('cells', '-')} cells, {d['count3'].get('withheld', '-')} withheld "
        f"{d['count3'].get('refused', '')}; 2-way mean {d['mean2'].get('cells', '-')} cells, "
        f"{d['mean2'].get('withheld', '-')} withheld {d['mean2'].get('refused', '')}. DuckDB: "
        f"{p['duckdb_count3']['cells']} and {p['duckdb_mean2']['cells']} cells, its CSV load "
        f"{p['duckdb_load_seconds']:.1f} s ({p['duckdb_threads']} threads).", "",
        f"Data directory after both uploads: {d['data_dir_bytes'] / gib:.2f} GiB. "
        f"Rotation: {d['rotation']['said']}", "",
        f"Versions: Python {p['versions']['python']}, pandas {p['versions']['pandas']}, "
        f"DuckDB {p['versions']['duckdb']}, NumPy {p['versions']['numpy']}.", "",
    ]
    return "\n".join(lines)


def during_upload(d):
    u = d.get("tables_during_upload")
    if not u or not u["tables"]:
        return []
    again = "the second CBS upload" if "upload_cbs_again" in d else "the CBS upload"
    return [f"Tables during {again}: one analyst asked a one-way DUO table every 0.2 s while "
            f"CBS uploaded: {u['tables']} tables, p50 {u['p50'] * 1000:.0f} ms, slowest "
            f"{u['max'] * 1000:.0f} ms, {u['errors']} errors.", ""]


def main():
    a = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    a.add_argument("--ddc", required=True, help="the release ddc binary")
    a.add_argument("--persons", type=int, default=18_000_000)
    a.add_argument("--students", type=int, default=4_000_000)
    a.add_argument("--runs", type=int, default=5)
    a.add_argument("--peer-runs", type=int, default=3)
    a.add_argument("--upload-runs", type=int, default=3)
    a.add_argument("--threads", type=int, default=os.cpu_count())
    a.add_argument("--clients", type=int, default=32)
    a.add_argument("--concurrency-seconds", type=int, default=30)
    a.add_argument("--work", type=Path)
    a.add_argument("--out", type=Path, default=Path("BENCHMARKS.md"))
    args = a.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="ddc-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    # The files of an earlier run in the same --work directory are reused
    # when they were made for the same sizes (generation is deterministic).
    made = work / "workload.json"
    w = json.loads(made.read_text()) if made.exists() else {}
    if (w.get("persons"), w.get("students")) != (args.persons, args.students):
        w = generate(work, args.persons, args.students, seed=13)
        made.write_text(json.dumps(w))
        log(f"generated {w['persons']:,} persons and {w['students']:,} students in {time.perf_counter() - started:.0f} s")
    for old in ("data", "data.keys"):
        shutil.rmtree(work / old, ignore_errors=True)
    d = run_ddc(args, work)
    p = run_peers(args, work)
    m = machine()
    (work / "bench.json").write_text(json.dumps({"machine": m, "workload": w, "ddc": d, "peers": p}, indent=2))
    args.out.write_text(report(args, m, w, d, p))
    log(f"wrote {args.out} and {work / 'bench.json'}")
    if not args.work:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()
