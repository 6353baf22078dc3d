import hashlib
import secrets

from django.db import models

from collectors.choices import ServerKind, UtilFrom
from collectors.constants import TOKEN_PREFIX

__all__ = ["Agent", "Deployment", "Gpu", "Node"]


class Node(models.Model):
    """One machine that holds GPUs, as its agent names it.

    A node belongs to the agent that first reported it: no other agent's token
    can change it, its GPUs or deployments, or post samples for them.
    """

    name = models.CharField(max_length=200, unique=True)
    agent = models.ForeignKey(
        "Agent",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="nodes",
        help_text="the agent allowed to report this node; clear it to let another claim it",
    )
    hostname = models.CharField(max_length=255, blank=True)
    # True for the built-in simulated fleet: every page that shows it says so.
    simulated = models.BooleanField(default=False)
    labels = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} (simulated)" if self.simulated else self.name


class Gpu(models.Model):
    """One GPU, identified by its NVML uuid, or one MIG instance of a GPU."""

    node = models.ForeignKey(Node, on_delete=models.CASCADE, related_name="gpus")
    uuid = models.CharField(max_length=100, unique=True)
    index = models.PositiveSmallIntegerField(null=True, blank=True)
    model_name = models.CharField(max_length=200, blank=True)
    memory_total_bytes = models.PositiveBigIntegerField(null=True, blank=True)
    # A MIG instance is a GPU of its own here, priced at its share of the physical one.
    # Database defaults too: rows written by older code (or raw SQL) stay valid.
    mig_profile = models.CharField(max_length=50, blank=True, default="", db_default="")
    gpu_fraction = models.FloatField(
        default=1.0, db_default=1.0, help_text="share of the physical GPU's price this device costs"
    )
    util_from = models.CharField(
        max_length=20, choices=UtilFrom.choices, default=UtilFrom.DEVICE, db_default="device"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["node__name", "index", "uuid"]
        verbose_name = "GPU"

    def __str__(self) -> str:
        return f"{self.node.name} #{self.index} {self.model_name}".strip()


class Deployment(models.Model):
    """One served model endpoint (one server process) on one node."""

    node = models.ForeignKey(Node, on_delete=models.CASCADE, related_name="deployments")
    name = models.CharField(max_length=200)
    model = models.CharField(max_length=300, blank=True)
    server_kind = models.CharField(
        max_length=20, choices=ServerKind.choices, default=ServerKind.OTHER
    )
    endpoint = models.CharField(max_length=500, blank=True)
    gpus = models.ManyToManyField(Gpu, related_name="deployments", blank=True)
    # Free-form key/value pairs such as team and project; chargeback groups by them.
    labels = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "node__name"]
        constraints = [
            models.UniqueConstraint(fields=["node", "name"], name="deployment_unique_per_node"),
        ]

    def __str__(self) -> str:
        return f"{self.name} on {self.node.name}"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Agent(models.Model):
    """A collector allowed to post to the ingest API with its own token.

    Only the token's SHA-256 is stored: the token itself is shown once, when made.
    """

    name = models.CharField(max_length=200, unique=True)
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    # The first characters, so people can tell tokens apart without the secret.
    token_prefix = models.CharField(max_length=12, editable=False)
    version = models.CharField(max_length=100, blank=True)
    # Samples the agent had to throw away when its spool was full (cumulative).
    dropped_samples = models.PositiveBigIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    last_seen_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def set_new_token(self) -> str:
        """Give the agent a fresh token and return it; the caller shows it once."""
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        self.token_hash = hash_token(token)
        self.token_prefix = token[:12]
        return token
