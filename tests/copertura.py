"""The coverage report of `make coverage`: SlipCover's JSON (``make test-sqlite`` writes
it) printed as a table of the files not fully covered and the total, and the floor held.

    .venv/bin/python -m tests.copertura build/coverage.json --floor 95
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("report", type=Path)
    parser.add_argument("--floor", type=float, required=True, help="percent of lines below which it fails")
    args = parser.parse_args(argv)
    if not args.report.exists():
        print(f"{args.report} non esiste: eseguire prima 'make test-sqlite' (misura la copertura).")
        return 1
    dati = json.loads(args.report.read_text())
    righe = []
    for nome, file in sorted(dati["files"].items()):
        riassunto = file["summary"]
        if riassunto["missing_lines"]:
            righe.append((nome, riassunto["covered_lines"] + riassunto["missing_lines"], riassunto["missing_lines"]))
    larghezza = max((len(n) for n, _, _ in righe), default=10)
    print(f"{'File':<{larghezza}}  {'righe':>6}  {'mancano':>7}  {'%':>6}")
    for nome, totale, mancano in righe:
        print(f"{nome:<{larghezza}}  {totale:>6}  {mancano:>7}  {100 * (totale - mancano) / totale:>5.1f}%")
    totale = dati["summary"]["covered_lines"] + dati["summary"]["missing_lines"]
    percentuale = dati["summary"]["percent_covered"]
    print(f"{'TOTALE':<{larghezza}}  {totale:>6}  {dati['summary']['missing_lines']:>7}  {percentuale:>5.1f}%")
    if percentuale < args.floor:
        print(f"Copertura {percentuale:.1f}% sotto la soglia del {args.floor:g}%.")
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
