"""The local stack: the whole system on loopback, no Docker, no AWS account."""
