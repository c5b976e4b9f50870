"""bot-orchestrator: keeps a warm pool of bot workers and assigns them to sessions."""
