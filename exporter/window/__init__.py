"""Window: bounded ring buffers, category vocabularies and the label join; no Redis, no maths."""
