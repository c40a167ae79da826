"""How many pages a walk may take: the bound every read loop checks.

A loop that ends only when the server stops sending a cursor or a page would spin forever
on a server that never does (a cursor kept on the last page, a filter that does not move a
crawl forward). Each loop therefore also stops, with ``WixWalkIncomplete``, once it has
asked for more pages than the records it holds can explain: twice the minimum (short pages
and gap fills cost extra pages) plus a fixed slack.
"""

from __future__ import annotations

import math

PAGE_SLACK = 10
"""Pages a walk may take beyond twice the minimum for what it read."""


def page_budget(records: int, page_size: int, *, window: int = 0) -> int:
    """Most pages a walk holding ``records`` may have asked for: twice the minimum, one
    window of concurrent pages (``window``) and ``PAGE_SLACK`` (pure)."""
    return 2 * math.ceil(records / page_size) + window + PAGE_SLACK
