"""Source: the Redis client, the supervised stream reader and its gap accounting."""
