"""A candidate's erasure across the platform, with a receipt that holds no personal data."""
