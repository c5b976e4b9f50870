"""The bot worker: a long-lived process that loads its voice models once, then conducts interviews.

One interview at a time (Pipecat's components are not built to serve calls in parallel in one
process). ``process`` consumes the bot job queue and reports heartbeats; ``job`` runs one
interview; ``pipeline`` wires transport, VAD and turn detection, STT, the ``interviewer`` processor
(the interview engine in a pipeline) and TTS; ``models`` and ``speech`` are the embedded stack.
"""
