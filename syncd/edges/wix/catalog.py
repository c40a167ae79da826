"""Which catalog a site runs (V1 or V3), asked once and remembered.

A site runs exactly one catalog and the two APIs are not interchangeable, so the adapter is
chosen from ``GET /stores/v3/provision/version``. Wix says a site upgraded to V3 is never
downgraded; the answer is cached on the ``CatalogDetector`` (one per site, owned by whoever
owns the site's client). A long-running process that must notice a V1 -> V3 upgrade calls
``detect(refresh=True)``, e.g. after V1 calls start failing with a 4xx (Wix documents 428 for
V3 calls on a V1 site; what V1 calls on a V3 site answer is unconfirmed).

Get Catalog Version needs a V3 read permission that a key made for Catalog V1 may lack: its
403 says that ``catalog: v1`` (or ``v3``) in the site's configuration skips the call.
"""

from __future__ import annotations

from syncd.base.errors import WixAuthError, WixClientError, WixError
from syncd.base.model import Catalog
from syncd.edges.config.client import CatalogChoice
from syncd.edges.wix.client import WixClient

VERSION_PATH = "/stores/v3/provision/version"

_VERSIONS = {"V1_CATALOG": Catalog.V1, "V3_CATALOG": Catalog.V3}


class CatalogDetector:
    """Ask a site's catalog version at most once (unless forced or refreshed)."""

    def __init__(self, client: WixClient, *,
                 force: CatalogChoice = CatalogChoice.AUTO) -> None:
        try:
            force = CatalogChoice(force)
        except ValueError:
            raise ValueError(f"catalog must be auto, v1 or v3, not {force!r}") from None
        self._client = client
        self._cached: Catalog | None = (None if force is CatalogChoice.AUTO
                                        else Catalog(force.value))
        self._forced = force is not CatalogChoice.AUTO

    async def detect(self, *, refresh: bool = False) -> Catalog:
        """The site's catalog; raises ``WixClientError`` (code STORES_NOT_INSTALLED) if none."""
        if self._cached is not None and (self._forced or not refresh):
            return self._cached
        try:
            data = await self._client.request("GET", VERSION_PATH, endpoint="catalog.version")
        except WixAuthError as exc:
            if exc.status != 403:
                raise
            raise WixAuthError(
                f"{exc}. The API key may not read the catalog version (a permission a key "
                "made for Catalog V1 can lack): set 'catalog: v1' (or 'v3') for the site to "
                "skip this call", status=exc.status, code=exc.code, endpoint=exc.endpoint,
            ) from exc
        version = data.get("catalogVersion")
        if version == "STORES_NOT_INSTALLED":
            raise WixClientError(
                f"site {self._client.site_id} has no Wix Stores app installed: install Wix "
                "Stores on the site (or fix the site id) before syncing its inventory",
                code="STORES_NOT_INSTALLED",
                endpoint="catalog.version",
            )
        catalog = _VERSIONS.get(str(version))
        if catalog is None:
            raise WixError(
                f"site {self._client.site_id}: unknown catalogVersion {version!r}; "
                "force the catalog with catalog=v1 or catalog=v3",
                endpoint="catalog.version",
            )
        self._client.log.info("wix_catalog_detected", catalog=catalog.value)
        self._cached = catalog
        return catalog
