"""One sync cycle: walk -> plan -> guard -> apply, and how it ended.

``sync`` is one site's cycle (``SiteSync``), ``results`` what a cycle produces, ``wiring``
opens every site's cycle at once; around them the site's client (``site_client``, with
``incremental`` reads), ``progress``, ``metrics``, the ``product_index`` and the
``endings``. The front ends run it.
"""
