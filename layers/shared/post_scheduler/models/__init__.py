"""pydantic shapes: what clients send, what the table stores, what the API answers."""
