"""Alembic environment of bot-orchestrator (shared body in voice_shared.migrations)."""

from voice_shared.migrations import run_env

run_env()
