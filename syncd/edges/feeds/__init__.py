"""Remote sources of truth: stock feeds fetched over HTTP(S), SFTP or S3.

A feed is fetched whole into a local copy (``syncd.edges.feeds.copy``), with a conditional request
so that an unchanged feed costs one small answer and no Wix call; only a complete, checked
body replaces the copy, and the source readers then read that copy like any local file. A
feed that fails (unreachable, refused, timed out, empty, truncated, over its size cap)
raises ``FeedError``, a ``SourceError``: the cycle stops before planning, nothing is
written. The daemon polls each feed on its own interval (``syncd.frontends.daemon.feedpoller``).
"""
