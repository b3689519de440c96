"""Audiences: segments, computed properties (and, next, engagement scores) — definitions, materialised
membership and values, incremental update from the event path, and the time-based re-check."""
