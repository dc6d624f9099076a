"""Create N bench chargers (BENCH-00001 ...) and their idTags (TAG-00001 ...) in a few bulk INSERTs.

DATABASE_URL=postgres://postgres@127.0.0.1:5432/csms_bench .venv/bin/python bench/seed.py --chargers 5000
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "csms.settings")

import django  # noqa: E402

django.setup()

from accounts.models import IdToken  # noqa: E402
from stations.credentials import password_hash  # noqa: E402
from stations.models import Station  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--chargers", type=int, default=5000)
    parser.add_argument("--prefix", default="BENCH-")
    parser.add_argument("--password", default="bench-password-0001")
    args = parser.parse_args()
    shared_hash = password_hash(args.password.encode())  # one salted hash for all: seeding stays fast
    numbers = range(1, args.chargers + 1)
    Station.objects.bulk_create(
        (Station(identity=f"{args.prefix}{n:05d}", password_hash=shared_hash) for n in numbers),
        batch_size=2000,
        ignore_conflicts=True,
    )
    IdToken.objects.bulk_create(
        (IdToken(id_tag=f"TAG-{n:05d}") for n in numbers), batch_size=2000, ignore_conflicts=True
    )
    print(
        f"{Station.objects.filter(identity__startswith=args.prefix).count()} chargers, "
        f"{IdToken.objects.filter(id_tag__startswith='TAG-').count()} idTags"
    )


if __name__ == "__main__":
    main()
