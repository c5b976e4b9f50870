"""Knowledge bases: org documents, chunked and searched to ground the interviewer bot."""
