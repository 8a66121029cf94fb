"""Business rules and use cases. Plain Python: no Lambda events, AWS access through adapters."""
