"""transcript-svc: collects transcript segments and stores final transcripts."""
