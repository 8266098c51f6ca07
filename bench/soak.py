"""The fault-injection soak of issue 17, in full: PostgreSQL, two `nborch server start` on
one store (both offering to schedule), eight process-pool workers spread over them (each
behind a proxy the soak controls), runs from interval schedules and direct triggers, and at
random: a worker SIGKILLed (a new one takes its place), a server SIGKILLed and started again,
PostgreSQL stopped and started, a worker's link cut or stalled for longer than the worker
timeout, one schedule made unschedulable in the store. Then the faults stop and the soak
waits for every run to be final.

Prints runs planned, executed (by the notebooks' own lines), executed more than once, lost,
CRASHED and retried, the longest time a run sat non-final and the faults per kind, against
the goals; exits 1 when a goal is not met. The implementation is `tests/support/soak.py`,
shared with the short version in the test command (`tests/e2e/test_soak.py`).

    .venv/bin/python bench/soak.py --runs 2000
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402,F401  (puts the tests' helpers on the path)
from support.soak import SoakConfig, run_soak  # noqa: E402
from support.soak_faults import KINDS  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=2000, help="runs to plan (about)")
    parser.add_argument("--rate", type=float, default=1.5, help="runs planned per second")
    parser.add_argument("--duration", type=float, default=None,
                        help="seconds of load and faults (default: runs / rate)")  # fmt: skip
    parser.add_argument("--seconds", type=float, default=2.0, help="a run's notebook sleeps ~")
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--servers", type=int, default=2)
    parser.add_argument("--limit", type=int, default=2, help="runs per worker at once")
    parser.add_argument("--fault-every", type=float, default=6.0, help="seconds, on average")
    parser.add_argument("--settle", type=float, default=180.0,
                        help="every run final within this many seconds after the faults")  # fmt: skip
    parser.add_argument("--seed", type=int, default=17)
    parser.add_argument("--kinds", default=",".join(KINDS), help="fault kinds, comma-separated")
    parser.add_argument("--keep", type=Path, default=None,
                        help="a folder for the logs and records (default: temporary, removed)")  # fmt: skip
    args = parser.parse_args()
    folder = args.keep or Path(tempfile.mkdtemp(prefix="nborch-soak-"))
    config = SoakConfig(
        folder=folder,
        runs=args.runs,
        duration=args.duration,
        rate=args.rate,
        seconds=args.seconds,
        servers=args.servers,
        workers=args.workers,
        limit=args.limit,
        fault_every=args.fault_every,
        settle=args.settle,
        seed=args.seed,
        kinds=tuple(kind for kind in args.kinds.split(",") if kind),
    )
    began = time.monotonic()
    try:
        findings = run_soak(config)
        print()
        print(findings.table())
        details = findings.details()
        if details:
            print()
            print(details)
        print(f"\nsoak took {time.monotonic() - began:.0f} s; seed {args.seed}")
        return 0 if findings.met else 1
    finally:
        if args.keep is None:
            shutil.rmtree(folder, ignore_errors=True)
        else:
            print(f"logs, fault events and run records in {folder}")


if __name__ == "__main__":
    sys.exit(main())
