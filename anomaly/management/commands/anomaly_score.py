import functools
import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from anomaly import constants
from anomaly.detectors import DETECTORS
from anomaly.offline import InputError, score_csv


class Command(BaseCommand):
    help = (
        "Score a timestamp,value CSV in time order, as if it had arrived live, and write"
        " timestamp,value,score,is_anomaly,kind,expected_low,expected_high to stdout."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="CSV with a timestamp,value header; - reads stdin")
        parser.add_argument("--detector", default="seasonal", choices=sorted(DETECTORS))
        parser.add_argument(
            "--sensitivity", type=float, default=1.0, help="below 1 flags less, above 1 more"
        )
        parser.add_argument(
            "--hourly",
            action="store_true",
            help="one point an hour (as the job scores cost series); seasonal detector only",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["sensitivity"] <= 0:
            raise CommandError("--sensitivity must be above 0")
        if options["hourly"] and options["detector"] != "seasonal":
            raise CommandError("--hourly is a setting of the seasonal detector")
        config = constants.HOURLY_SEASONAL if options["hourly"] else None
        score = functools.partial(
            score_csv,
            out=self.stdout,
            detector=options["detector"],
            sensitivity=options["sensitivity"],
            config=config,
        )
        name = options["file"]
        if name == "-" and hasattr(sys.stdin, "reconfigure"):
            sys.stdin.reconfigure(encoding="utf-8-sig")  # a BOM is not part of the header
        try:
            if name == "-":
                score(sys.stdin)
                return
            with Path(name).open(newline="", encoding="utf-8-sig") as source:
                score(source)
        except FileNotFoundError:
            raise CommandError(f"{name}: no such file") from None
        except (InputError, UnicodeDecodeError) as exc:
            raise CommandError(f"{name}: {exc}") from None
        except BrokenPipeError:
            # The reader (head, less) went away: that is not an error.
            sys.stderr.close()
