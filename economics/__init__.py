"""Kept only for its migration history: its one model, CapacityEstimate, now belongs to
telemetry (same table). The label stays installed so a new database still replays the
migrations that create that table."""
