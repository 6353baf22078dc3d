from django.db import models


class TokenScope(models.TextChoices):
    # Ingest is the agents' scope: their tokens (Settings, Agents) post samples and
    # read nothing. A person's token reads, or reads and writes.
    READ = "read", "Read"
    WRITE = "write", "Read and write"
