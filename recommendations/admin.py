from django.contrib import admin

from recommendations.models import Recommendation


@admin.register(Recommendation)
class RecommendationAdmin(admin.ModelAdmin):
    list_display = ["title", "rule", "monthly_saving_usd", "confidence", "status", "last_seen_at"]
    list_filter = ["rule", "status", "confidence"]
    readonly_fields = ["rule", "fingerprint", "arithmetic", "evidence", "first_seen_at",
                       "last_seen_at", "closed_at"]  # fmt: skip
