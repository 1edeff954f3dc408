"""French: thousands are grouped with a narrow no-break space (20 000), as French typography
writes them; Django's own French format uses a full no-break space. Everything else is
Django's."""

THOUSAND_SEPARATOR = "\u202f"
