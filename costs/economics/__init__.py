"""Unit economics of serving: phase dollars (prefill/decode), the idle split and
the figures per deployment built on them."""
