from django.http import HttpRequest

from collectors.models import Node


def simulated(request: HttpRequest) -> dict[str, object]:
    """Tell every page whether any shown data comes from the simulated fleet."""
    if not getattr(request, "user", None) or not request.user.is_authenticated:
        return {"simulated_fleet": False}
    return {"simulated_fleet": Node.objects.filter(simulated=True).exists()}
