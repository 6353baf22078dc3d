"""The registry: each rule module registers its class here, in one place."""

from importlib import import_module

from recommendations.rules.base import Context, Finding, Rule

RULES: dict[str, type[Rule]] = {}


def register(cls: type[Rule]) -> type[Rule]:
    if not cls.name or cls.name in RULES:
        raise ValueError(f"rule {cls.__name__} needs a unique name, got {cls.name!r}")
    RULES[cls.name] = cls
    return cls


def all_rules() -> list[Rule]:
    return [cls() for cls in RULES.values()]


# The rule modules, in the order rules run and the issue lists them; each registers
# its class on import. A new rule is one module here.
RULE_MODULES = (
    "idle_gpus",
    "underused",
    "batching",
    "precision",
    "kernels",
    "scale_up",
    "prefix_cache",
    "troughs",
    "pricing",
    "hosted",
)
for _module in RULE_MODULES:
    import_module(f"recommendations.rules.{_module}")

__all__ = ["RULES", "Context", "Finding", "Rule", "all_rules", "register"]
