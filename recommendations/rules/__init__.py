"""The registry: each rule module registers its class here, in one place."""

from recommendations.rules.base import Context, Finding, Rule

RULES: dict[str, type[Rule]] = {}


def register(cls: type[Rule]) -> type[Rule]:
    if not cls.name or cls.name in RULES:
        raise ValueError(f"rule {cls.__name__} needs a unique name, got {cls.name!r}")
    RULES[cls.name] = cls
    return cls


def all_rules() -> list[Rule]:
    return [cls() for cls in RULES.values()]


# Imported for their @register; the order is the order rules run in.
from recommendations.rules import idle_gpus  # noqa: E402, F401

__all__ = ["RULES", "Context", "Finding", "Rule", "all_rules", "register"]
