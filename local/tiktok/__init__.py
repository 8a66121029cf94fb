"""The stand-in TikTok: OAuth and the Content Posting API on loopback, with fault injection
(`/_faults`, `/_control`) and inspection (`/_inspect/*`) for tests and demos."""

from local.tiktok.server import TikTokStub as TikTokStub
