from datetime import date
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models

from collectors.models import Gpu, Node
from costs.choices import NodePricingKind, PricingKind
from costs.gpu_models import CANONICAL_MODELS, canonical_model

__all__ = ["NodePrice", "PriceBookEntry"]

_NON_NEGATIVE = [MinValueValidator(Decimal(0))]


class PriceBookEntry(models.Model):
    """The list price of one GPU model for one pricing kind, from a date on.

    The entry with the latest valid_from on or before a day prices that day.
    """

    gpu_model = models.CharField(
        max_length=50, help_text="canonical model name, e.g. 'H100 SXM' (see docs/costs.md)"
    )
    kind = models.CharField(max_length=20, choices=PricingKind.choices)
    usd_per_gpu_hour = models.DecimalField(
        max_digits=10, decimal_places=4, validators=_NON_NEGATIVE
    )
    valid_from = models.DateField()
    source = models.CharField(max_length=500, help_text="where the price comes from, and when")

    class Meta:
        ordering = ["gpu_model", "kind", "-valid_from"]
        constraints = [
            models.UniqueConstraint(
                fields=["gpu_model", "kind", "valid_from"], name="pricebook_unique_from"
            )
        ]
        verbose_name = "price book entry"
        verbose_name_plural = "price book"

    def __str__(self) -> str:
        return f"{self.gpu_model} {self.kind} ${self.usd_per_gpu_hour}/GPU-h from {self.valid_from}"

    def clean(self) -> None:
        # GPUs are matched to the book by canonical name, or by the exact name an
        # agent reports for a model we have no canonical name for: any other
        # name would never apply.
        if self.gpu_model in CANONICAL_MODELS:
            return
        canonical = canonical_model(self.gpu_model)
        if canonical:
            raise ValidationError({"gpu_model": f"Use the canonical name '{canonical}'."})
        if Gpu.objects.filter(model_name=self.gpu_model).exists():
            return
        known = ", ".join(CANONICAL_MODELS)
        raise ValidationError(
            {"gpu_model": f"Use a canonical name ({known}) or a model name your GPUs report."}
        )


class NodePrice(models.Model):
    """How one node's GPUs are priced from a date on, overriding the on-demand default.

    A price-book kind uses the book's price for each GPU's model; custom is a
    flat rate; on-premises is the purchase price spread over its life plus the
    measured energy at the power price, times the site's PUE.
    """

    node = models.ForeignKey(Node, on_delete=models.CASCADE, related_name="prices")
    valid_from = models.DateField(default=date.today)
    kind = models.CharField(max_length=20, choices=NodePricingKind.choices)
    usd_per_gpu_hour = models.DecimalField(
        max_digits=10, decimal_places=4, null=True, blank=True, validators=_NON_NEGATIVE
    )
    purchase_usd_per_gpu = models.DecimalField(
        max_digits=12, decimal_places=2, null=True, blank=True, validators=_NON_NEGATIVE
    )
    amortize_years = models.DecimalField(
        max_digits=4,
        decimal_places=1,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0.1"))],
    )
    usd_per_kwh = models.DecimalField(
        max_digits=8, decimal_places=4, null=True, blank=True, validators=_NON_NEGATIVE
    )
    pue = models.DecimalField(
        max_digits=4,
        decimal_places=2,
        default=Decimal("1.3"),
        validators=[MinValueValidator(Decimal(1))],
        help_text="power usage effectiveness: facility energy / IT energy",
    )

    class Meta:
        ordering = ["node__name", "-valid_from"]
        constraints = [
            models.UniqueConstraint(fields=["node", "valid_from"], name="nodeprice_unique_from")
        ]

    def __str__(self) -> str:
        return f"{self.node.name}: {self.get_kind_display()} from {self.valid_from}"

    def clean(self) -> None:
        errors = {}
        if self.kind == NodePricingKind.CUSTOM and self.usd_per_gpu_hour is None:
            errors["usd_per_gpu_hour"] = "A custom price needs $ per GPU-hour."
        if self.kind == NodePricingKind.ON_PREM:
            for field in ("purchase_usd_per_gpu", "amortize_years", "usd_per_kwh"):
                if getattr(self, field) is None:
                    errors[field] = "On-premises pricing needs this."
        if errors:
            raise ValidationError(errors)
