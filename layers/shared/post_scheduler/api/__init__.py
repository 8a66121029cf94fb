"""HTTP glue shared by the API functions: the envelope, error mapping and the caller's identity."""
