"""Shared code of the TikTok post scheduler: domain rules, models, adapters, HTTP glue and auth."""
