"""Tests of the ddc Python client (plain unittest).

The tests of the class `AgainstServer` talk to a real server: set
DDC_TEST_SERVER to a plaintext development server with fresh directories,
e.g.

    ddc serve --insecure-plaintext-dev --listen 127.0.0.1:50999 --data-dir "$D/data" --key-dir "$D/keys"
    DDC_TEST_SERVER=http://127.0.0.1:50999 python -m unittest discover -s clients/python/tests -v

Without it they are skipped; the tests of the parsing helpers always run.
Every server test declares datasets of its own (named with this run's id),
so the tests can run in any order, and again against the same server.
"""

import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest
import uuid
from pathlib import Path

import pandas as pd

from ddc_client import (
    Client,
    DdcError,
    Violation,
    categorical,
    decimal,
    integer,
    parse_field_path,
)

SERVER = os.environ.get("DDC_TEST_SERVER", "").strip()
EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "example.py"
RUN = uuid.uuid4().hex[:8]
STATUSES = {
    "released",
    "withheld_threshold",
    "withheld_secondary",
    "withheld_group",
    "withheld_dominance",
    "withheld_p_percent",
    "withheld_value_counts",
    "withheld_differencing",
    "structural_zero",
}


# --- synthetic identifiers (eleven-test) -----------------------------------


def _weighted(body):
    return sum(int(d) * w for d, w in zip(body[:8], range(9, 1, -1)))


def bsns(start, count):
    """`count` distinct synthetic BSNs: 8-digit bodies from `start` on, each
    completed with the check digit that passes the eleven-test."""
    out, n = [], start
    while len(out) < count:
        body = f"{n:08d}"
        check = _weighted(body) % 11
        if check < 10:
            out.append(body + str(check))
        n += 1
    return out


def invalid_identifier():
    """Nine digits that fail the eleven-test for BSN and onderwijsnummer."""
    body = "61234567"
    for last in range(10):
        total = (_weighted(body) - last) % 11
        if total not in (0, 5):
            return body + str(last)
    raise AssertionError("unreachable")


# Each test draws its persons from its own range.
_ranges = iter(range(62000000, 69000000, 100000))


def persons(count):
    return bsns(next(_ranges), count)


class FieldPaths(unittest.TestCase):
    """Violation paths as the server writes them (no server needed)."""

    def test_row_and_column(self):
        self.assertEqual(
            parse_field_path("rows[12].birth_year"), Violation(12, "birth_year", "rows[12].birth_year", "", "row")
        )

    def test_whole_row(self):
        self.assertEqual(parse_field_path("rows[7]"), Violation(7, None, "rows[7]", "", "row"))

    def test_header(self):
        self.assertEqual(parse_field_path("header.col", "INVALID_HEADER"), Violation(None, "col", "header.col", "", "header"))
        self.assertEqual(parse_field_path("header"), Violation(None, None, "header", "", "header"))

    def test_header_message_field_is_a_request_path(self):
        v = parse_field_path("header.upload_id", "INVALID_REQUEST")
        self.assertEqual((v.row, v.column, v.place), (None, None, "request"))

    def test_request_paths(self):
        for path in ("filters[0].values[2]", "group_by[1]", "measure", "schema.columns[3].categorical.categories[0]"):
            v = parse_field_path(path, "INVALID_REQUEST")
            self.assertEqual((v.row, v.column, v.field, v.place), (None, None, path, "request"))


class LocalChecks(unittest.TestCase):
    """What the client refuses before calling (no server needed)."""

    def test_https_without_tls_files(self):
        with self.assertRaises(ValueError) as cm:
            Client.connect("https://127.0.0.1:1")
        self.assertIn("ca, cert and key", str(cm.exception))

    def test_http_with_tls_files(self):
        with self.assertRaises(ValueError):
            Client.connect("http://127.0.0.1:1", ca=b"x", cert=b"y", key=b"z")

    def test_partial_tls_files(self):
        with self.assertRaises(ValueError) as cm:
            Client.connect("127.0.0.1:1", cert=b"y", key=b"z")
        self.assertIn("ca", str(cm.exception))

    def test_addresses(self):
        for address in ("127.0.0.1:1", "http://127.0.0.1:1", "http://localhost:1/"):
            Client.connect(address).close()
        for address in ("", "ftp://host:1", "http://host:1/path"):
            with self.assertRaises(ValueError):
                Client.connect(address)

    def test_measure(self):
        client = Client.connect("127.0.0.1:1")
        with self.assertRaises(ValueError):
            client.table("a.b.c", measure="median")
        with self.assertRaises(ValueError):
            client.table("a.b.c", measure="mean")  # no variable
        client.close()

    def test_missing_file_is_refused_before_calling(self):
        # Port 1 has no server: had the client called, this would be UNAVAILABLE.
        client = Client.connect("127.0.0.1:1")
        with self.assertRaises(FileNotFoundError):
            client.upload("duo.x", "/nonexistent/pupils.csv")
        client.close()


class TableShapes(unittest.TestCase):
    """long() and wide() of a Table message made here (no server needed)."""

    def table(self, dimensions, cells, measure=0):
        from ddc_client import Table
        from ddc_client._stubs import release_pb2

        message = release_pb2.Table(measure=measure, release=7, datasets=["a.b"])
        for variable, entries in dimensions:
            d = message.dimensions.add(variable=variable)
            for code, label, subtotal in entries:
                d.categories.append(code)
                d.entries.add(code=code, label=label, subtotal=subtotal)
        for coordinates, count, status in cells:
            cell = message.cells.add(coordinates=coordinates, status=status)
            if count is not None:
                cell.count = count
        return Table(message)

    def test_labels_margins_and_withheld(self):
        t = self.table(
            [("a.b.gemeente+provincie", [("GM1", "Eentje", False), ("GM2", "Tweetje", False), ("PV1", "Provincie", True)])],
            [([-1], 40, 1), ([1], None, 2), ([0], 25, 1), ([2], 40, 1)],
        )
        self.assertEqual(t.names, ["gemeente"])
        long = t.long()
        self.assertEqual(list(long["gemeente"]), ["Eentje", "Tweetje", "Provincie", "Total"])
        self.assertEqual(list(long["code_gemeente"]), ["GM1", "GM2", "PV1", None])
        self.assertEqual(list(long["subtotal_gemeente"]), [False, False, True, False])
        self.assertEqual(list(long["total_gemeente"]), [False, False, False, True])
        self.assertEqual(list(long["status"]), ["released", "withheld_threshold", "released", "released"])
        self.assertTrue(math.isnan(long["value"][1]))
        wide = t.wide()
        self.assertEqual(list(wide.index), ["Eentje", "Tweetje", "Provincie", "Total"])
        self.assertEqual(wide.loc["Total", "value"], 40)

    def test_clashing_names_and_three_dimensions(self):
        dims = [("a.x.jaar", [("1", "1", False)]), ("b.y.jaar", [("1", "1", False)]), ("b.y.regio", [("n", "Noord", False)])]
        cells = [([i, j, k], 12, 1) for i in (0, -1) for j in (0, -1) for k in (0, -1)]
        t = self.table(dims, cells)
        self.assertEqual(t.names, ["a.x.jaar", "b.y.jaar", "b.y.regio"])
        self.assertEqual(len(t.long()), 8)
        wide = t.wide()
        self.assertEqual(wide.shape, (2, 4))
        self.assertEqual(list(wide.columns), [("1", "Noord"), ("1", "Total"), ("Total", "Noord"), ("Total", "Total")])

    def test_duplicate_labels_get_their_codes(self):
        t = self.table([("a.b.c", [("x1", "Same", False), ("x2", "Same", False)])], [([0], 11, 1), ([1], 12, 1), ([-1], 23, 1)])
        self.assertEqual(list(t.wide().index), ["Same [x1]", "Same [x2]", "Total"])


@unittest.skipUnless(SERVER, "set DDC_TEST_SERVER (e.g. http://127.0.0.1:50051, a plaintext development server)")
class AgainstServer(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.client = Client.connect(SERVER, timeout=120)
        cls.dir = tempfile.mkdtemp(prefix="ddc-client-test-")

    @classmethod
    def tearDownClass(cls):
        cls.client.close()
        shutil.rmtree(cls.dir, ignore_errors=True)

    # helpers

    def name(self, what):
        return f"duo.t{RUN}_{what}"

    def write(self, header, rows):
        path = os.path.join(self.dir, f"{uuid.uuid4().hex}.csv")
        with open(path, "w", newline="\n") as f:
            f.write(",".join(header) + "\n")
            for row in rows:
                f.write(",".join(str(v) for v in row) + "\n")
        return path

    def niveau_dataset(self, what, sizes, extra=None):
        """A dataset (pgn, niveau[, extra columns]) holding `sizes`
        persons per niveau; returns (name, path, rows)."""
        name = self.name(what)
        columns = [categorical("niveau", list(sizes))] + list(extra or [])
        self.client.create_dataset(name, "duo", "pgn", columns)
        ids = persons(sum(sizes.values()))
        rows, i = [], 0
        for niveau, n in sizes.items():
            for _ in range(n):
                rows.append([ids[i], niveau])
                i += 1
        return name, rows

    def assert_refused(self, call, code, reason):
        with self.assertRaises(DdcError) as cm:
            call()
        e = cm.exception
        self.assertEqual((e.code, e.reason), (code, reason), str(e))
        self.assertTrue(e.message)
        return e

    # uploads

    def test_upload_receipt(self):
        name, rows = self.niveau_dataset("receipt", {"havo": 12, "vwo": 11})
        path = self.write(["pgn", "niveau"], rows)
        receipt = self.client.upload(name, path)
        self.assertEqual(receipt.dataset, name)
        self.assertEqual(receipt.version, 1)
        self.assertEqual((receipt.rows_read, receipt.rows_stored, receipt.rows_rejected), (23, 23, 0))
        self.assertEqual(receipt.problems, [])
        self.assertEqual(len(receipt.upload_id), 32)
        self.assertFalse(receipt.replayed)
        self.assertIsNotNone(receipt.log)
        self.assertTrue(receipt.log.checkpoint)
        self.assertEqual(self.client.dataset(name).version, 1)

        # A retry with the same id stores nothing and returns the receipt.
        again = self.client.upload(name, path, upload_id=receipt.upload_id)
        self.assertTrue(again.replayed)
        self.assertEqual(again.version, 1)
        self.assertEqual(self.client.dataset(name).version, 1)

        # Data present: only with replace.
        self.assert_refused(lambda: self.client.upload(name, path), "FAILED_PRECONDITION", "DATASET_HAS_DATA")
        self.assertEqual(self.client.upload(name, path, replace=True).version, 2)

    def test_rejected_upload_names_row_and_column(self):
        name, rows = self.niveau_dataset("rejected", {"havo": 12, "vwo": 11})
        rows[3][0] = invalid_identifier()  # data row 4 (line 5 of the file)
        rows[6][1] = "mbo"  # data row 7: not a declared category
        path = self.write(["pgn", "niveau"], rows)
        e = self.assert_refused(lambda: self.client.upload(name, path), "INVALID_ARGUMENT", "INVALID_ROWS")
        self.assertEqual(
            [(v.row, v.column, v.field, v.place) for v in e.violations],
            [(4, "pgn", "rows[4].pgn", "row"), (7, "niveau", "rows[7].niveau", "row")],
        )
        self.assertTrue(all(v.reason for v in e.violations))
        frame = e.violations_frame()
        self.assertEqual(list(frame["row"]), [4, 7])
        # The identifier itself is never echoed.
        self.assertNotIn(invalid_identifier(), str(e))
        # All or nothing: nothing was stored.
        self.assertEqual(self.client.dataset(name).version, 0)

        # With skip_invalid the others are stored and the two reported.
        receipt = self.client.upload(name, path, skip_invalid=True)
        self.assertEqual((receipt.rows_read, receipt.rows_stored, receipt.rows_rejected), (23, 21, 2))
        self.assertEqual([(p.row, p.column) for p in receipt.problems], [(4, "pgn"), (7, "niveau")])

    def test_header_mismatch(self):
        name, rows = self.niveau_dataset("header", {"havo": 12})
        path = self.write(["pgn", "level"], rows)
        e = self.assert_refused(lambda: self.client.upload(name, path), "INVALID_ARGUMENT", "INVALID_HEADER")
        self.assertIn(("header", "niveau"), [(v.place, v.column) for v in e.violations], str(e))
        self.assertTrue(all(v.row is None for v in e.violations))

    def test_missing_file(self):
        name, _ = self.niveau_dataset("missing", {"havo": 12})
        start = time.monotonic()
        with self.assertRaises(FileNotFoundError):
            self.client.upload(name, os.path.join(self.dir, "no-such-file.csv"))
        self.assertLess(time.monotonic() - start, 5)
        self.assertEqual(self.client.dataset(name).version, 0)

    def test_ensure_dataset_twice(self):
        name = self.name("ensure")
        first = self.client.ensure_dataset(name, "duo", "pgn", [categorical("niveau", ["havo", "vwo"])])
        second = self.client.ensure_dataset(name, "duo", "pgn", [categorical("niveau", ["havo", "vwo"])])
        self.assertEqual(first, second)
        self.assertEqual(second.columns, [categorical("niveau", ["havo", "vwo"])])
        self.assert_refused(
            lambda: self.client.create_dataset(name, "duo", "pgn", ["niveau:cat:havo,vwo"]),
            "ALREADY_EXISTS",
            "DATASET_EXISTS",
        )

    # tables

    def test_count_table(self):
        sizes = {"pro": 3, "vmbo": 40, "havo": 30, "vwo": 25}
        name, rows = self.niveau_dataset("count", sizes)
        self.client.upload(name, self.write(["pgn", "niveau"], rows))
        table = self.client.table(f"{name}.niveau")

        self.assertEqual(table.measure, "count")
        self.assertIsNone(table.variable)
        self.assertEqual(table.variables, [f"{name}.niveau"])
        self.assertEqual(table.names, ["niveau"])
        self.assertEqual(table.datasets, [name])
        self.assertGreater(table.release, 0)
        threshold = table.policy["threshold"]
        self.assertGreater(threshold, 3)
        noise = (table.policy.get("perturbation") or {}).get("max_noise", 0)
        rounding = max(1, table.policy.get("table_rounding", 1))
        self.assertGreaterEqual(table.summary["withheld_threshold"], 1)

        long = table.long()
        self.assertIsInstance(long, pd.DataFrame)
        for column in ("niveau", "value", "count", "status", "total_niveau", "is_total", "code_niveau"):
            self.assertIn(column, long.columns)
        self.assertEqual(list(long["niveau"]), ["pro", "vmbo", "havo", "vwo", "Total"])
        self.assertTrue(set(long["status"]) <= STATUSES, set(long["status"]))
        # Margins are marked, labelled, never -1.
        total = long[long["is_total"]]
        self.assertEqual(len(total), 1)
        self.assertEqual(total["niveau"].iloc[0], "Total")
        self.assertTrue(total["total_niveau"].iloc[0])
        self.assertIsNone(total["code_niveau"].iloc[0])
        self.assertFalse((long[["niveau", "code_niveau"]].astype(str) == "-1").any().any())
        # The 3 persons of pro are below the threshold: withheld, NaN.
        pro = long[long["niveau"] == "pro"].iloc[0]
        self.assertEqual(pro["status"], "withheld_threshold")
        self.assertTrue(math.isnan(pro["value"]) and math.isnan(pro["count"]))
        # Released cells hold (perturbed) counts near the truth; withheld ones NaN.
        truth = dict(sizes, Total=sum(sizes.values()))
        for _, row in long.iterrows():
            if row["status"] == "released":
                self.assertFalse(math.isnan(row["value"]))
                self.assertEqual(row["value"], row["count"])
                self.assertLessEqual(abs(row["value"] - truth[row["niveau"]]), noise + rounding, row.to_dict())
            else:
                self.assertTrue(math.isnan(row["value"]), row.to_dict())

        wide = table.wide()
        self.assertEqual(list(wide.index), ["pro", "vmbo", "havo", "vwo", "Total"])
        self.assertEqual(wide.index.name, "niveau")
        self.assertEqual(list(wide.columns), ["value"])
        self.assertTrue(math.isnan(wide.loc["pro", "value"]))
        pd.testing.assert_series_equal(
            wide["value"].reset_index(drop=True), long["value"].reset_index(drop=True), check_names=False
        )

    def test_two_way_table(self):
        name = self.name("twoway")
        self.client.create_dataset(
            name, "duo", "pgn", [categorical("niveau", ["havo", "vwo"]), categorical("regio", ["noord", "zuid", "west"])]
        )
        sizes = {("havo", "noord"): 25, ("havo", "zuid"): 20, ("havo", "west"): 3, ("vwo", "noord"): 22, ("vwo", "zuid"): 18, ("vwo", "west"): 30}
        ids = iter(persons(sum(sizes.values())))
        rows = [[next(ids), n, r] for (n, r), k in sizes.items() for _ in range(k)]
        self.client.upload(name, self.write(["pgn", "niveau", "regio"], rows))
        table = self.client.table([f"{name}.niveau", f"{name}.regio"])

        long = table.long()
        self.assertEqual(len(long), 3 * 4)  # (2 + total) x (3 + total)
        grand = long[long["total_niveau"] & long["total_regio"]]
        self.assertEqual(len(grand), 1)
        self.assertEqual((grand["niveau"].iloc[0], grand["regio"].iloc[0]), ("Total", "Total"))
        margins = long[long["is_total"]]
        self.assertEqual(len(margins), 3 + 2 + 1)
        cell = long[(long["niveau"] == "havo") & (long["regio"] == "west")].iloc[0]
        self.assertEqual(cell["status"], "withheld_threshold")

        wide = table.wide()
        self.assertEqual(list(wide.index), ["havo", "vwo", "Total"])
        self.assertEqual(list(wide.columns), ["noord", "zuid", "west", "Total"])
        self.assertEqual((wide.index.name, wide.columns.name), ("niveau", "regio"))
        self.assertTrue(math.isnan(wide.loc["havo", "west"]))
        self.assertEqual(wide.loc["Total", "Total"], grand["value"].iloc[0])
        counts = table.wide(values="count")
        self.assertEqual(counts.shape, wide.shape)

    def test_mean_and_sum_tables(self):
        name = self.name("mean")
        self.client.create_dataset(name, "duo", "pgn", [categorical("niveau", ["pro", "havo", "vwo"]), decimal("cijfer", 1)])
        ids = iter(persons(3 + 40 + 35))
        rows = []
        for niveau, n, base in (("pro", 3, 50), ("havo", 40, 60), ("vwo", 35, 70)):
            for i in range(n):
                rows.append([next(ids), niveau, f"{(base + (i * 7) % 30) / 10:.1f}"])
        self.client.upload(name, self.write(["pgn", "niveau", "cijfer"], rows))

        mean = self.client.table(f"{name}.niveau", measure="mean", variable=f"{name}.cijfer")
        self.assertEqual((mean.measure, mean.variable), ("mean", f"{name}.cijfer"))
        long = mean.long()
        self.assertEqual(list(long["niveau"]), ["pro", "havo", "vwo", "Total"])
        pro = long[long["niveau"] == "pro"].iloc[0]
        self.assertTrue(pro["status"].startswith("withheld"))
        self.assertTrue(math.isnan(pro["value"]))
        released = long[long["status"] == "released"]
        self.assertGreaterEqual(len(released), 1)
        for _, row in released.iterrows():
            # Values 5.0 to 9.9, each perturbed by at most a quarter.
            self.assertTrue(5.0 * 0.7 <= row["value"] <= 9.9 * 1.3, row.to_dict())
        self.assertTrue(math.isnan(mean.wide().loc["pro", "value"]))

        total = self.client.table(f"{name}.niveau", measure="sum", variable=f"{name}.cijfer")
        self.assertEqual(total.measure, "sum")
        for _, row in total.long().iterrows():
            if row["status"] == "released":
                self.assertGreater(row["value"], 0)

    def test_filters(self):
        name, rows = self.niveau_dataset("filters", {"vmbo": 30, "havo": 25, "vwo": 20})
        self.client.upload(name, self.write(["pgn", "niveau"], rows))
        table = self.client.table(f"{name}.niveau", filters={f"{name}.niveau": ["havo", "vwo"]})
        self.assertEqual(list(table.long()["niveau"]), ["havo", "vwo", "Total"])
        negated = self.client.table(f"{name}.niveau", filters=[(f"{name}.niveau", "havo", True)])
        self.assertEqual(list(negated.long()["niveau"]), ["vmbo", "vwo", "Total"])
        e = self.assert_refused(
            lambda: self.client.table(f"{name}.niveau", filters=[(f"{name}.niveau", ["havo", "mbo"])]),
            "INVALID_ARGUMENT",
            "INVALID_REQUEST",
        )
        self.assertEqual([(v.field, v.row, v.column) for v in e.violations], [("filters[0].values[1]", None, None)])

    def test_linkage(self):
        name, rows = self.niveau_dataset("linkage", {"havo": 30, "vwo": 20})
        self.client.upload(name, self.write(["pgn", "niveau"], rows))
        frame = self.client.linkage([name])
        self.assertEqual(list(frame.columns), ["dataset", "other", "persons", "status"])
        self.assertEqual(list(frame["dataset"]), [name])
        self.assertIsNone(frame["other"].iloc[0])
        self.assertEqual(frame["status"].iloc[0], "released")
        self.assertIn("threshold", frame.attrs["policy"])

    # refusals

    def test_unknown_dataset(self):
        e = self.assert_refused(
            lambda: self.client.table(f"duo.t{RUN}_nothing.niveau"), "NOT_FOUND", "DATASET_NOT_FOUND"
        )
        self.assertEqual(e.metadata.get("field"), "group_by[0]")
        self.assertEqual(e.domain, "ddc.v1")
        self.assert_refused(lambda: self.client.dataset(f"duo.t{RUN}_nothing"), "NOT_FOUND", "DATASET_NOT_FOUND")

    def test_unknown_measure(self):
        name, rows = self.niveau_dataset("enum", {"havo": 30})
        self.client.upload(name, self.write(["pgn", "niveau"], rows))
        # An enum value this server does not know is refused, never read as COUNT.
        e = self.assert_refused(
            lambda: self.client.table(f"{name}.niveau", measure=99), "INVALID_ARGUMENT", "INVALID_REQUEST"
        )
        self.assertEqual([(v.field, v.row, v.column, v.place) for v in e.violations], [("measure", None, None, "request")])

    def test_bad_definition(self):
        e = self.assert_refused(
            lambda: self.client.create_dataset(self.name("bad"), "duo", "pgn", [categorical("Niveau", [])]),
            "INVALID_ARGUMENT",
            "INVALID_DEFINITION",
        )
        self.assertTrue(e.violations)
        self.assertTrue(all(v.field.startswith("schema.") and v.row is None for v in e.violations), str(e))

    # the README's example

    def test_example_runs_twice(self):
        for attempt in (1, 2):
            done = subprocess.run(
                [sys.executable, str(EXAMPLE), SERVER], capture_output=True, text=True, timeout=300
            )
            self.assertEqual(done.returncode, 0, f"run {attempt}:\n{done.stdout}\n{done.stderr}")
            self.assertIn("duo.python: stored 300 of 300 rows", done.stdout)
            self.assertIn("share of pupils", done.stdout)

    def test_example_without_its_files(self):
        lonely = os.path.join(self.dir, "lonely")
        os.makedirs(lonely, exist_ok=True)
        shutil.copy(EXAMPLE, lonely)
        done = subprocess.run(
            [sys.executable, os.path.join(lonely, "example.py"), SERVER], capture_output=True, text=True, timeout=60
        )
        self.assertEqual(done.returncode, 2, done.stderr)
        self.assertIn("is missing", done.stderr)


if __name__ == "__main__":
    unittest.main()
