"""One adapter per outside system: the table, the Scheduler, the video store, TikTok, KMS."""
