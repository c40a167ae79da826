"""Every variant of one V1 product by offset paging, bounded by what a product can hold.

Query Product Variants pages by offset. A short page may come mid-stream (the page size
Wix honours is unconfirmed), so a short page ends the read only when the answer's
``totalResults`` says every variant is in (it costs no call); otherwise only an empty page
ends it. A product holds at most
``MAX_PRODUCT_VARIANTS`` variants (``Product.variants @maxSize 1000``), so a server that
keeps answering (the same page again, an offset it ignores) stops the read with
``WixWalkIncomplete`` instead of looping: repeats are dropped by variant id, and pages are
bounded by what the distinct variants read explain (``bounds.page_budget``).
"""

from __future__ import annotations

from syncd.base.errors import WixWalkIncomplete
from syncd.edges.wix.answers import V1Variant, V1VariantsPage
from syncd.edges.wix.bounds import page_budget
from syncd.edges.wix.client import CallCounter, WixClient

MAX_PRODUCT_VARIANTS = 1_000
"""Most variants a Wix product holds (``Product.variants @maxSize 1000``)."""


async def read_product_variants(client: WixClient, *, path: str, endpoint: str,
                                page_size: int, counter: CallCounter | None = None
                                ) -> list[V1Variant]:
    """The variants of one product at ``path`` (a Query Product Variants route), each once."""
    found: dict[str, V1Variant] = {}
    unnamed: list[V1Variant] = []
    offset = pages = 0
    while True:
        data = await client.request_as(V1VariantsPage, "POST", path, endpoint=endpoint,
                                       counter=counter,
                                       body={"paging": {"limit": page_size, "offset": offset}})
        pages += 1
        page = data.variants or []
        if not page:
            return [*found.values(), *unnamed]
        for variant in page:
            variant_id = variant.id
            if variant_id:
                found.setdefault(variant_id, variant)
            else:
                unnamed.append(variant)
        offset += len(page)
        held = len(found) + len(unnamed)
        total = data.totalResults
        if len(page) < page_size and total is not None and 0 < total <= held:
            return [*found.values(), *unnamed]
        if held > MAX_PRODUCT_VARIANTS or pages > page_budget(held, page_size):
            raise WixWalkIncomplete(
                f"{endpoint}: {path} kept answering after {pages} pages ({held} distinct "
                f"variants, at most {MAX_PRODUCT_VARIANTS} per product): the read cannot "
                "end, so the product's variants are not trusted; nothing was written")
