"""The webhook edge's machinery: capped body reads, signature secrets, the group-commit writer
that makes a delivery durable before it is acknowledged, and the Redis-safe apply nudges."""
