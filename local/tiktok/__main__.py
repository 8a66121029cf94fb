"""`python -m local.tiktok --port 3001 --demo`: the stand-in alone."""

from local.tiktok.server import main

main()
