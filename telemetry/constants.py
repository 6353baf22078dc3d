"""Fixed numbers of the rollups (limits that vary per install live in settings)."""

# Consecutive samples further apart than this do not count as the GPU being
# present in between: the agent, the node or the GPU was gone.
MAX_SAMPLE_GAP_S = 300.0
# No GPU draws more than this: a larger energy-counter step is a counter reset
# or a bug, and that interval falls back to power x time.
MAX_PLAUSIBLE_POWER_W = 3000.0
# NVML throttle reasons that slow the GPU down (SW power cap, HW slowdown, SW and
# HW thermal, power brake); idle and application-clock settings are not throttling.
THROTTLE_MASK = 0x4 | 0x8 | 0x40 | 0x80 | 0x100
