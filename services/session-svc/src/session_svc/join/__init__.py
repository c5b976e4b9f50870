"""The candidate's side of a session: join links, what the join page shows, and consent."""
