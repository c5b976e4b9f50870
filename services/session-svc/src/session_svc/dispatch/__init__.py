"""Dispatch: the candidate presses Start (or a manager dispatches) and the session's bot job goes out."""
