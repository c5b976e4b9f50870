"""`voice simulate`: a simulated candidate takes an interview through the gateway and the real room.

``personas`` (who the candidate is and what they say), ``speech`` (Piper and Whisper),
``candidate`` (the WebRTC peer, listening and turn taking), ``run`` (the interview through the
gateway and the report), ``cli`` (the command).
"""
