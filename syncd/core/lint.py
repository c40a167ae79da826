"""What in a store will stop or confuse a sync, found before a sync runs into it.

``lint_store`` is pure, like the differ: a full walk of the store (the same snapshot a sync
plans from), the source rows, and optionally the catalog's list of every variant (V3 Query
Variants, which also sees variants that have no inventory item) go in; one ``Finding`` per
kind of problem comes out, with a count and a few examples. Each finding says whether the
data it needs was read at all (``checked``), so "0 found" is never claimed for a check that
could not look.

What each check sees:

- duplicate SKUs, empty SKUs: every variant the walk returns (V3: every inventory item, so
  with ``catalog`` also the variants that have none).
- untracked products given quantities: the walk's tracking flag and the source rows
  matched by SKU or by ids.
- hidden products: V1 always; V3 from Query Variants' ``productData.visible`` when read,
  else only the variants the walk marks hidden (``v3_product_visibility``).
- options without managed variants: V1 only (``manageVariants``; V3 has no such flag).
- variants without inventory items: V3 only, and only with ``catalog``.
- several locations without a configured one: V3 only, from the items' ``locationId``.
- plans a sync refuses: from the same plan check a sync makes (``refusals``). Only these
  are errors (``severity``): every other finding is something a sync handles and reports.
- writes Wix ignored: V1, from the journal (``ignored_writes``): absolute writes Wix
  answered ``{}`` that a later read found not in effect, and that the walk still shows
  not in effect (syncd does not send them again while nothing changes).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from syncd.base.model import (
    LOCATION_SEPARATOR,
    NIL_GUID,
    Catalog,
    CatalogVariant,
    DesiredStock,
    StoreSnapshot,
    StoreVariant,
)
from syncd.core.guards import GuardResult
from syncd.core.journal import JournalEntry, Outcome, StockState

MAX_EXAMPLES = 5


class Problem(StrEnum):
    """The kinds of problem ``syncd lint`` looks for."""

    DUPLICATE_SKU = "duplicate_sku"
    EMPTY_SKU = "empty_sku"
    UNTRACKED_WITH_QUANTITY = "untracked_with_quantity"
    HIDDEN_PRODUCT = "hidden_product"
    OPTIONS_NOT_MANAGED = "options_not_managed"
    NO_INVENTORY_ITEM = "no_inventory_item"
    MULTI_LOCATION = "multi_location_unconfigured"
    IGNORED_WRITE = "ignored_write"
    SYNC_REFUSED = "sync_refused"
    """The plan a sync would make is refused (no source row matches, a guard trips)."""


class Severity(StrEnum):
    ERROR = "error"
    """A sync refuses to run: it writes nothing."""
    WARNING = "warning"
    """A sync runs and handles it (skips it and says so, or writes it its own way), but
    its result may surprise."""


def severity(problem: Problem) -> Severity:
    """How ``syncd lint`` rates ``problem``: an error exactly when a sync refuses the plan.

    A sync refuses only what its plan check refuses (``syncd.cycle.sync.SiteSync.plan``:
    ``match_problem`` and the guards), and lint reports what that same check says as
    ``SYNC_REFUSED``. Every problem in the store itself is something the differ handles
    while the sync goes on (a duplicate SKU is reported as ambiguous and never written,
    an untracked product gets in/out of stock, a repeat of an ignored write is held), so
    it is a warning: lint never fails a store that a sync would sync."""
    return Severity.ERROR if problem is Problem.SYNC_REFUSED else Severity.WARNING


_ABOUT: dict[Problem, tuple[str, str]] = {
    Problem.SYNC_REFUSED: (
        "reasons a sync refuses the plan (and writes nothing)",
        "fix the source or the store; or, where the plan is right, raise the policy limit "
        "named, or run `syncd sync --force` once"),
    Problem.DUPLICATE_SKU: (
        "SKUs carried by several variants",
        "a sync goes on but never writes such a SKU: give each variant its own SKU, or "
        "target the rows by product_id/variant_id"),
    Problem.EMPTY_SKU: (
        "variants without a SKU",
        "source rows cannot name them by SKU: add SKUs in Wix or target them by ids"),
    Problem.UNTRACKED_WITH_QUANTITY: (
        "untracked products the source gives quantities for",
        "their quantities are written as in/out of stock; turn on quantity tracking in Wix "
        "or set policy.untracked: track"),
    Problem.HIDDEN_PRODUCT: (
        "hidden products",
        "they are synced like visible ones; hide stock you do not want changed by leaving "
        "it out of the source"),
    Problem.OPTIONS_NOT_MANAGED: (
        "products with options but no managed variants",
        "Wix keeps SKU (and perhaps stock) on the product, not on each variant: turn on "
        "'Manage pricing and inventory for each product variant' in Wix"),
    Problem.NO_INVENTORY_ITEM: (
        "variants without an inventory item",
        "a sync cannot see or write them: create their inventory items in Wix"),
    Problem.MULTI_LOCATION: (
        "variants stocked at several locations, and no location configured",
        "their SKUs name several items, so they are never written: set the site's "
        "location_id"),
    Problem.IGNORED_WRITE: (
        "variants whose writes Wix accepted but did not apply",
        "Wix answered {} to Update Inventory Variants and the variant kept its value; syncd "
        "does not send the same write again until the source or the store changes: check "
        "the variant's inventory in Wix (it may not hold that variant)"),
}


@dataclass(frozen=True, slots=True)
class Finding:
    """One kind of problem: how many, a few examples, and what to do."""

    problem: Problem
    severity: Severity
    title: str
    count: int
    """Distinct things affected: SKUs for duplicates, products for product-level problems,
    variants otherwise."""
    examples: tuple[str, ...]
    hint: str
    checked: bool = True
    """False when the data this check needs was not read (see ``note``)."""
    note: str = ""


@dataclass(frozen=True, slots=True)
class LintReport:
    """Every finding for one store, in ``Problem`` order."""

    catalog: Catalog
    variants: int
    findings: tuple[Finding, ...]

    def worst(self) -> Severity | None:
        """The most severe level among findings with a count, or None when clean."""
        levels = {f.severity for f in self.findings if f.count}
        if Severity.ERROR in levels:
            return Severity.ERROR
        return Severity.WARNING if levels else None

    def to_dict(self) -> dict[str, object]:
        return {
            "catalog": self.catalog.value, "variants": self.variants,
            "findings": [{"problem": f.problem.value, "severity": f.severity.value,
                          "title": f.title, "count": f.count, "examples": list(f.examples),
                          "hint": f.hint, "checked": f.checked, "note": f.note}
                         for f in self.findings],
        }


def _finding(problem: Problem, things: Sequence[str], *, checked: bool = True,
             note: str = "") -> Finding:
    title, hint = _ABOUT[problem]
    return Finding(problem, severity(problem), title, len(things),
                   tuple(things[:MAX_EXAMPLES]), hint, checked, note)


def _name(v: StoreVariant) -> str:
    return f"{v.product_name or v.product_id} ({v.product_id}/{v.variant_id})"


def lint_store(
    snapshot: StoreSnapshot,
    rows: Iterable[DesiredStock] = (),
    *,
    location_id: str | None = None,
    catalog: Sequence[CatalogVariant] | None = None,
    journal: Sequence[JournalEntry] | None = None,
    refusals: Sequence[str] | None = None,
) -> LintReport:
    """Every finding for ``snapshot``.

    ``catalog`` is every variant of a V3 store (``syncd.edges.wix.variants_v3``); None when it
    was not read. ``journal`` is the site's journal (for the writes Wix ignored); None
    when it was not read. ``refusals`` are the reasons a sync's plan check gave for
    refusing the plan (``refusals``); None when no plan was made.
    """
    v3 = snapshot.catalog is Catalog.V3
    # One entry per (product, variant): V3 has one item per location.
    variants: dict[tuple[str, str], StoreVariant] = {}
    locations: dict[tuple[str, str], set[str]] = defaultdict(set)
    for v in snapshot.variants:
        key = (v.product_id, v.variant_id)
        variants.setdefault(key, v)
        locations[key].add(v.location_id or "")
    skus: dict[str, list[tuple[str, str]]] = defaultdict(list)
    empty: list[str] = []
    names = {key: _name(v) for key, v in variants.items()}
    for key, v in variants.items():
        if v.sku:
            skus[v.sku].append(key)
        else:
            empty.append(names[key])
    if catalog is not None:
        for c in catalog:
            key = (c.product_id, c.variant_id)
            if key in variants:
                continue
            names[key] = f"{c.product_name or c.product_id} ({c.product_id}/{c.variant_id})"
            if c.sku:
                skus[c.sku].append(key)
            else:
                empty.append(names[key])
    duplicates = [f"{sku}: {len(keys)} variants" for sku, keys in skus.items()
                  if len(keys) > 1 and not _one_products_sku(keys, variants)]

    findings = [
        _finding(Problem.DUPLICATE_SKU, duplicates),
        _finding(Problem.EMPTY_SKU, empty),
        _finding(Problem.UNTRACKED_WITH_QUANTITY, _untracked_given_quantities(variants, rows)),
        _hidden(variants, catalog, v3),
        _options_not_managed(variants, v3),
        _no_item(variants, catalog, v3),
        _multi_location(locations, names, location_id, v3),
        _ignored(variants, journal, v3),
        _finding(Problem.SYNC_REFUSED, list(refusals or ()), checked=refusals is not None,
                 note="" if refusals is not None else "no plan was made"),
    ]
    return LintReport(snapshot.catalog, len(variants), tuple(findings))


def refusals(match_problem: str | None, guards: Iterable[GuardResult]) -> list[str]:
    """Why a sync refuses a plan, from what its plan check found (``PlanResult``): the
    source not matching the store, and every guard that failed."""
    found = [match_problem] if match_problem is not None else []
    return found + [f"{g.guard.value}: {g.message}" for g in guards if not g.passed]


def _one_products_sku(keys: list[tuple[str, str]],
                      variants: dict[tuple[str, str], StoreVariant]) -> bool:
    """The variants of one V1 product without managed variants show the product's SKU:
    the differ writes them together, so that SKU is no duplicate."""
    return (len({product for product, _ in keys}) == 1
            and all(k in variants and variants[k].shared_sku for k in keys))


def _untracked_given_quantities(
    variants: dict[tuple[str, str], StoreVariant], rows: Iterable[DesiredStock]
) -> list[str]:
    by_sku: dict[str, list[StoreVariant]] = defaultdict(list)
    by_product: dict[str, list[StoreVariant]] = defaultdict(list)
    for v in variants.values():
        if v.sku:
            by_sku[v.sku].append(v)
        by_product[v.product_id].append(v)
    products: dict[str, str] = {}
    for row in rows:
        if row.quantity is None:
            continue
        if row.sku is not None:
            # A row routed to a stock location targets its SKU at that location.
            targets = by_sku.get(row.sku.split(LOCATION_SEPARATOR, 1)[0], [])
            targets = targets if len(targets) == 1 else []
        else:
            targets = [v for v in by_product.get(row.product_id or "", [])
                       if row.variant_id is None or v.variant_id == row.variant_id]
        for v in targets:
            if not v.tracked and v.product_id not in products:
                products[v.product_id] = f"{v.product_name or v.product_id} " \
                                         f"({row.source}:{row.line}: {row.key} = {row.quantity})"
    return list(products.values())


def _hidden(variants: dict[tuple[str, str], StoreVariant],
            catalog: Sequence[CatalogVariant] | None, v3: bool) -> Finding:
    hidden: dict[str, str] = {}
    for v in variants.values():
        if v.hidden:
            hidden.setdefault(v.product_id, v.product_name or v.product_id)
    if catalog is not None:
        for c in catalog:
            if not c.product_visible:
                hidden.setdefault(c.product_id, c.product_name or c.product_id)
    note = ("only variants marked hidden; hidden products are seen with Query Variants "
            "(syncd lint reads it unless --no-catalog) or walk.v3_product_visibility"
            if v3 and catalog is None else "")
    return _finding(Problem.HIDDEN_PRODUCT, list(hidden.values()), note=note)


def _options_not_managed(variants: dict[tuple[str, str], StoreVariant], v3: bool) -> Finding:
    if v3:
        return _finding(Problem.OPTIONS_NOT_MANAGED, [], checked=False,
                        note="Catalog V3 has no manageVariants: every variant is managed")
    products: dict[str, str] = {}
    for v in variants.values():
        if v.variant_id != NIL_GUID and v.managed_variant is False:
            products.setdefault(v.product_id, v.product_name or v.product_id)
    return _finding(Problem.OPTIONS_NOT_MANAGED, list(products.values()))


def _no_item(variants: dict[tuple[str, str], StoreVariant],
             catalog: Sequence[CatalogVariant] | None, v3: bool) -> Finding:
    if not v3:
        return _finding(Problem.NO_INVENTORY_ITEM, [], checked=False,
                        note="Catalog V1 keeps stock on the product: no items to miss")
    if catalog is None:
        return _finding(Problem.NO_INVENTORY_ITEM, [], checked=False,
                        note="needs Query Variants (left out with --no-catalog)")
    missing = [f"{c.product_name or c.product_id} ({c.product_id}/{c.variant_id})"
               for c in catalog if (c.product_id, c.variant_id) not in variants]
    return _finding(Problem.NO_INVENTORY_ITEM, missing)


def _multi_location(locations: dict[tuple[str, str], set[str]], names: dict[tuple[str, str], str],
                    location_id: str | None, v3: bool) -> Finding:
    if not v3:
        return _finding(Problem.MULTI_LOCATION, [], checked=False,
                        note="Catalog V1 has one stock per variant")
    if location_id is not None:
        return _finding(Problem.MULTI_LOCATION, [],
                        note=f"location {location_id} is configured: only it is read")
    several = [f"{names[key]}: {len(locs)} locations"
               for key, locs in locations.items() if len(locs) > 1]
    return _finding(Problem.MULTI_LOCATION, several)


def ignored_writes(journal: Sequence[JournalEntry]) -> list[JournalEntry]:
    """The writes whose variant's last journal line marks them ignored by Wix."""
    last: dict[tuple[str, str], JournalEntry] = {}
    for entry in journal:
        last[(entry.product_id, entry.variant_id)] = entry
    return [e for e in last.values() if e.outcome is Outcome.IGNORED]


def _ignored(variants: dict[tuple[str, str], StoreVariant],
             journal: Sequence[JournalEntry] | None, v3: bool) -> Finding:
    if v3:
        return _finding(Problem.IGNORED_WRITE, [], checked=False,
                        note="V1 only: a V3 write answers with the item it stored")
    if journal is None:
        return _finding(Problem.IGNORED_WRITE, [], checked=False, note="journal not read")
    found = []
    for e in ignored_writes(journal):
        v = variants.get((e.product_id, e.variant_id))
        if v is not None and StockState(v.quantity, v.in_stock, v.tracked) == e.before:
            found.append(f"{_name(v)}: {_stock(e.before)} -> {_stock(e.after)}")
    return _finding(Problem.IGNORED_WRITE, found)


def _stock(state: StockState) -> str:
    if state.quantity is not None and state.tracked:
        return str(state.quantity)
    return "in stock" if state.in_stock else "out of stock"
