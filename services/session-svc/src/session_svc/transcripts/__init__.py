"""Sessions' final transcripts as session-svc sees them: who may read them, and the list of them."""
