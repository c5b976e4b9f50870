"""analytics-svc: scores finished interviews against their rubric."""
