"""Sessions' analytics as session-svc sees them: the current score and decision of each, and the list of them."""
