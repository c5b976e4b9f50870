"""The warm pool: the bots (heartbeats), how many there should be (policy), the backends that run them."""
