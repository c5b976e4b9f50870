"""Scorers: the embedded heuristic (transparent rules) and an LLM over any OpenAI-compatible endpoint."""
