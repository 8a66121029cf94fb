"""Credential verification for the Lambda authorizer: JWTs and API keys."""
