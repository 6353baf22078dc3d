from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from inferscope.celery import app
from inferscope.schedule import JOBS


class Command(BaseCommand):
    help = (
        "Run periodic jobs once, synchronously, in dependency order: all jobs, or the named ones."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("jobs", nargs="*", help=", ".join(job.name for job in JOBS))

    def handle(self, *args: Any, jobs: list[str], **options: Any) -> None:
        unknown = [name for name in jobs if name not in {job.name for job in JOBS}]
        if unknown:
            known = ", ".join(job.name for job in JOBS)
            raise CommandError(f"Unknown job {unknown[0]!r}; known jobs: {known}")
        chosen = [job for job in JOBS if not jobs or job.name in jobs]
        app.loader.import_default_modules()  # autodiscovery is lazy outside a worker
        for job in chosen:
            summary = app.tasks[job.task]()
            self.stdout.write(f"{job.name}: {summary}")
