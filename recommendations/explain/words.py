"""Numbers in the words a finding's action and arithmetic use."""


def plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def rate(tokens_s: float) -> str:
    """1,200 / 35 / 0.42: whole tokens per second unless that would read 0."""
    return f"{tokens_s:,.0f}" if tokens_s >= 10 else f"{tokens_s:.2g}"
