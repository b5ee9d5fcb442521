"""Writes the synthetic sample files of the worked example (deterministic):

  pupils.csv   pgn,niveau          300 pupils: 270 with a BSN, 30 with an
                                   onderwijsnummer (no BSN); niveau pro, vmbo,
                                   havo or vwo, with only 4 pupils in pro
  incomes.csv  pgn,regio,inkomen   320 persons: 240 of the pupils with a BSN
                                   and 80 others; regio noord, oost, zuid or
                                   west; a yearly income in euros

Every identifier is synthetic: a sequence number completed so that it passes
the eleven-test (a BSN: 9*d1 + 8*d2 + ... + 2*d8 - d9 = 0 mod 11; an
onderwijsnummer: "10" + 7 digits with the same sum = 5 mod 11). No other
personal data is made up beyond these numbers and random categories.

    python make_samples.py [OUT_DIR]     # default: this file's directory
"""

import os
import random
import sys


def _weighted(digits):
    return sum(int(d) * w for d, w in zip(digits[:8], range(9, 1, -1)))


def bsn(n):
    """The first BSN-shaped number at or after 8-digit body `n`."""
    while True:
        body = f"{n:08d}"
        check = _weighted(body) % 11
        if check < 10 and body[0] != "0":
            return body + str(check)
        n += 1


def onderwijsnummer(n):
    """The first onderwijsnummer at or after body `10` + `n` (6 digits)."""
    while True:
        body = "10" + f"{n % 1000000:06d}"
        check = (_weighted(body) - 5) % 11
        if check < 10:
            return body + str(check)
        n += 1


def is_valid(identifier):
    """The server's eleven-test (BSN or onderwijsnummer)."""
    if len(identifier) != 9 or not identifier.isdigit() or set(identifier) == {"0"}:
        return False
    total = _weighted(identifier) - int(identifier[8])
    return total % 11 == 0 or (total % 11 == 5 and identifier.startswith("10"))


def identifiers(make, start, count, step=37):
    """`count` distinct identifiers from `make`, spread from `start`."""
    out, n = [], start
    while len(out) < count:
        value = make(n)
        if value not in out:
            out.append(value)
        n += step
    return out


def main(out_dir):
    rnd = random.Random(20261202)
    with_bsn = identifiers(bsn, 61000000, 270 + 80)
    pupils_bsn, others = with_bsn[:270], with_bsn[270:]
    pupils_onr = identifiers(onderwijsnummer, 410000, 30)
    pupils = pupils_bsn + pupils_onr
    rnd.shuffle(pupils)

    niveaus = ["pro"] * 4 + rnd.choices(["vmbo", "havo", "vwo"], weights=[45, 30, 25], k=len(pupils) - 4)
    rnd.shuffle(niveaus)
    with open(os.path.join(out_dir, "pupils.csv"), "w", newline="\n") as f:
        f.write("pgn,niveau\n")
        for pgn, niveau in zip(pupils, niveaus):
            f.write(f"{pgn},{niveau}\n")

    persons = pupils_bsn[:240] + others
    rnd.shuffle(persons)
    with open(os.path.join(out_dir, "incomes.csv"), "w", newline="\n") as f:
        f.write("pgn,regio,inkomen\n")
        for pgn in persons:
            regio = rnd.choice(["noord", "oost", "zuid", "west"])
            inkomen = int(rnd.lognormvariate(10.4, 0.35))
            f.write(f"{pgn},{regio},{inkomen}\n")
    assert all(is_valid(i) for i in pupils + persons)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__)))
