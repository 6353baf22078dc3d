from datetime import date, datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from costs.report import FORMATS, render, report_rows
from costs.selectors import ReportError, unpriced_gpus
from inferscope.lib.timerange import day_start


def _day(value: str) -> datetime:
    try:
        return day_start(date.fromisoformat(value))
    except ValueError:
        raise CommandError(f"{value!r} is not a date like 2026-11-01") from None


class Command(BaseCommand):
    help = (
        "Chargeback report for a period: GPU-hours and $ (active, idle-held, truly idle),"
        " requests, tokens, $ per 1M prompt and generated tokens."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--start", required=True, help="first day, YYYY-MM-DD (UTC)")
        parser.add_argument("--end", required=True, help="day after the last, YYYY-MM-DD (UTC)")
        parser.add_argument(
            "--by",
            default="deployment",
            help="deployment, node, gpu or label:KEY (e.g. label:team)",
        )
        parser.add_argument("--format", default="csv", choices=FORMATS)

    def handle(self, *args: Any, **options: Any) -> None:
        start, end = _day(options["start"]), _day(options["end"])
        try:
            rows = report_rows(start, end, options["by"])
        except ReportError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(render(rows, options["format"], start, end, options["by"]), ending="")
        for gpu in unpriced_gpus(start, end):
            self.stderr.write(
                f"warning: {gpu['gpu__node__name']} #{gpu['gpu__index']} {gpu['gpu__model_name']}"
                f" is costed at $0: {gpu['pricing']}"
            )
