"""Delivery: subscribers, unsubscribe tokens, SMTP with retries, the exactly-once send."""
