"""One log line for a task that did something, none for one that did not.

Celery logs every task at INFO twice (received, succeeded) and beat a third time
(sent); with alerts evaluated every 15 s that buries everything else, the first
password included. settings.LOGGING lowers those loggers to WARNING, so failures
and retries still show, and this logs the task's own summary instead, unless every
count in it is zero ("wrote 0 alert events")."""

import logging
import re
from typing import Any

from celery.signals import task_success

logger = logging.getLogger("inferscope.tasks")
_COUNT = re.compile(r"\d+")


def did_something(summary: str) -> bool:
    counts = _COUNT.findall(summary)
    return not counts or any(int(count) for count in counts)


@task_success.connect
def log_summary(sender: Any = None, result: Any = None, **kwargs: Any) -> None:
    if result is None or not did_something(str(result)):
        return
    logger.info("%s: %s", getattr(sender, "name", sender), result)
