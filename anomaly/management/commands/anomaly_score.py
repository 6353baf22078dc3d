import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

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

    def handle(self, *args: Any, **options: Any) -> None:
        if options["sensitivity"] <= 0:
            raise CommandError("--sensitivity must be above 0")
        name = options["file"]
        if name == "-" and hasattr(sys.stdin, "reconfigure"):
            sys.stdin.reconfigure(encoding="utf-8-sig")  # a BOM is not part of the header
        try:
            if name == "-":
                score_csv(sys.stdin, self.stdout, options["detector"], options["sensitivity"])
                return
            with Path(name).open(newline="", encoding="utf-8-sig") as source:
                score_csv(source, self.stdout, options["detector"], options["sensitivity"])
        except FileNotFoundError:
            raise CommandError(f"{name}: no such file") from None
        except (InputError, UnicodeDecodeError) as exc:
            raise CommandError(f"{name}: {exc}") from None
        except BrokenPipeError:
            # The reader (head, less) went away: that is not an error.
            sys.stderr.close()
