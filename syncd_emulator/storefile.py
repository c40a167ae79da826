"""Read an emulated store from a readable YAML (or JSON) file.

The format, with every key (only ``products`` and each product's ``name`` are required)::

    products:                        # in creation order: numericId ascends down the file
      - name: Classic Mug            # 1..80 characters
        sku: MUG-CLASSIC             # option-less products: the SKU (V1 keeps it on the product)
        quantity: 40                 # stock, 0..99999 (default 0)
        in_stock: true               # what an untracked product reports (default true)
        track: true                  # false: quantities are not tracked, in_stock decides
        visible: true                # false: a hidden product
        manage_variants: false       # V1, products with options: SKU and stock on the product
        price: 12.5                  # default 10
        description: Stoneware, 350 ml
        id: 3f0c...                  # optional GUID; default derived from the name
      - name: Logo T-shirt
        options:                     # up to 6 options, each with 1..100 choices, in order
          Size: [S, M, L]
          Colour: [Red, Blue]        # an option named Colour/Color renders as a colour swatch
        variants:                    # default: every combination, empty SKU, quantity 0
          - choices: {Size: S, Colour: Red}
            sku: TSHIRT-LOGO-RED-S   # duplicate and empty SKUs are allowed, as on Wix
            quantity: 5
            in_stock: true
            price: 27
            visible: true
            id: 7a1d...              # optional GUID; default derived from the choices
            inventory_item: false    # V3 only: the variant has no inventory item yet

A product with options gets its SKUs on the variants (V1 ``manageVariants: true``), unless
it says ``manage_variants: false``: then its own ``sku`` is the SKU of every variant (V1
``manageVariants: false``; each variant keeps its own stock, one reading of a point the
contract leaves open). An option-less product has exactly one variant (V1: the nil GUID)
carrying the product's SKU, quantity and in_stock. Unknown keys are errors, so a typo never
silently changes a store.
"""

from __future__ import annotations

import itertools
import json
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from syncd.base.errors import ConfigError
from syncd.base.model import MAX_QUANTITY
from syncd_emulator.spec import (
    DEFAULT_LOCATION_ID,
    FIRST_NUMERIC_ID,
    OptionSpec,
    ProductSpec,
    StoreSpec,
    VariantSpec,
    derived_id,
)

NUMERIC_ID_STEP = 7_919
"""Gap between consecutive numeric ids: ascending but not consecutive, like Wix's."""

DEFAULT_PRICE = 10.0

PRODUCT_KEYS = frozenset(
    {"name", "sku", "quantity", "in_stock", "track", "visible", "price", "description", "id",
     "options", "variants", "manage_variants"}
)
VARIANT_KEYS = frozenset(
    {"choices", "sku", "quantity", "in_stock", "price", "visible", "id", "inventory_item"}
)
MAX_OPTIONS = 6
MAX_CHOICES = 100
MAX_VARIANTS = 1000
MAX_NAME = 80
MAX_SKU = 40


def load_store_file(path: str | Path) -> StoreSpec:
    """Parse ``path`` (``.json`` as JSON, anything else as YAML) into a ``StoreSpec``.

    Raises ConfigError naming the file and the offending key path.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise ConfigError(f"{path}: cannot read store file: {e.strerror or e}") from e
    try:
        data = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as e:
        kind = "JSON" if path.suffix.lower() == ".json" else "YAML"
        raise ConfigError(f"{path}: not valid {kind}: {e}") from e
    return parse_store(data, source=str(path))


def parse_store(data: object, *, source: str) -> StoreSpec:
    """Turn already-parsed YAML/JSON data into a ``StoreSpec`` (see the module docstring)."""
    if not isinstance(data, Mapping) or not isinstance(data.get("products"), list):
        raise ConfigError(f"{source}: expected a mapping with a 'products' list")
    unknown = set(data) - {"products"}
    if unknown:
        names = ", ".join(sorted(map(str, unknown)))
        raise ConfigError(f"{source}: unknown top-level key(s): {names}")
    seen_names: dict[str, int] = {}
    products = []
    for index, raw in enumerate(data["products"]):
        where = f"{source}: products[{index}]"
        products.append(_parse_product(raw, index=index, where=where, seen_names=seen_names))
    ids = [p.id for p in products]
    if len(set(ids)) != len(ids):
        raise ConfigError(f"{source}: two products have the same id")
    return StoreSpec(products=tuple(products), source=source)


def _parse_product(
    raw: object, *, index: int, where: str, seen_names: dict[str, int]
) -> ProductSpec:
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where}: expected a mapping")
    _reject_unknown(raw, PRODUCT_KEYS, where)
    name = _text(raw, "name", where, required=True, max_len=MAX_NAME)
    seen_names[name] = seen_names.get(name, 0) + 1
    occurrence = "" if seen_names[name] == 1 else f"#{seen_names[name]}"
    product_id = _guid(raw, where) or derived_id("product", name + occurrence)
    price = _number(raw, "price", where, default=DEFAULT_PRICE)
    options = _parse_options(raw.get("options"), where)
    manage_variants = _flag(raw, "manage_variants", where, default=True)
    if options:
        for key in ("quantity", "in_stock", *(("sku",) if manage_variants else ())):
            if key in raw:
                raise ConfigError(
                    f"{where}.{key}: a product with options keeps '{key}' on its variants"
                )
        variants = _parse_variants(raw.get("variants"), options, product_id, price, where)
        sku = "" if manage_variants else _text(raw, "sku", where, max_len=MAX_SKU)
    else:
        if "variants" in raw:
            raise ConfigError(f"{where}.variants: only products with options have variants")
        sku = _text(raw, "sku", where, max_len=MAX_SKU)
        variant_id = derived_id("variant", product_id, "default")
        variants = (
            VariantSpec(
                id=variant_id,
                choices=(),
                sku=sku,
                quantity=_quantity(raw, where),
                in_stock=_flag(raw, "in_stock", where, default=True),
                price=price,
                item_id=derived_id("item", variant_id, DEFAULT_LOCATION_ID),
            ),
        )
    return ProductSpec(
        id=product_id,
        numeric_id=FIRST_NUMERIC_ID + index * NUMERIC_ID_STEP,
        name=name,
        sku=sku,
        visible=_flag(raw, "visible", where, default=True),
        track=_flag(raw, "track", where, default=True),
        price=price,
        options=options,
        variants=variants,
        inventory_item_id=derived_id("inventory", product_id),
        description=_text(raw, "description", where, max_len=8000),
        manage_variants=(manage_variants if "manage_variants" in raw else None),
    )


def _parse_options(raw: object, where: str) -> tuple[OptionSpec, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, Mapping) or len(raw) > MAX_OPTIONS:
        raise ConfigError(f"{where}.options: expected a mapping of up to {MAX_OPTIONS} options")
    options = []
    for name, choices in raw.items():
        if not isinstance(name, str) or not name or not isinstance(choices, list):
            raise ConfigError(f"{where}.options: each option is 'Name: [choice, ...]'")
        values = tuple(str(c) for c in choices)
        if not 1 <= len(values) <= MAX_CHOICES or len(set(values)) != len(values):
            raise ConfigError(
                f"{where}.options.{name}: needs 1..{MAX_CHOICES} distinct choices"
            )
        kind = "color" if name.lower() in ("colour", "color") else "drop_down"
        options.append(OptionSpec(name=name, choices=values, kind=kind))
    return tuple(options)


def _parse_variants(
    raw: object, options: tuple[OptionSpec, ...], product_id: str, price: float, where: str
) -> tuple[VariantSpec, ...]:
    if raw is None:
        combos = itertools.product(*(o.choices for o in options))
        raw = [{"choices": dict(zip((o.name for o in options), combo, strict=True))}
               for combo in combos]
    if not isinstance(raw, list) or not 1 <= len(raw) <= MAX_VARIANTS:
        raise ConfigError(f"{where}.variants: expected a list of 1..{MAX_VARIANTS} variants")
    variants = []
    seen: set[tuple[tuple[str, str], ...]] = set()
    for index, item in enumerate(raw):
        here = f"{where}.variants[{index}]"
        if not isinstance(item, Mapping):
            raise ConfigError(f"{here}: expected a mapping")
        _reject_unknown(item, VARIANT_KEYS, here)
        choices = _choices(item.get("choices"), options, here)
        if choices in seen:
            raise ConfigError(f"{here}.choices: the same combination appears twice")
        seen.add(choices)
        variant_id = _guid(item, here) or derived_id(
            "variant", product_id, ",".join(f"{k}={v}" for k, v in choices)
        )
        has_item = _flag(item, "inventory_item", here, default=True)
        variants.append(
            VariantSpec(
                id=variant_id,
                choices=choices,
                sku=_text(item, "sku", here, max_len=MAX_SKU),
                quantity=_quantity(item, here),
                in_stock=_flag(item, "in_stock", here, default=True),
                price=_number(item, "price", here, default=price),
                item_id=derived_id("item", variant_id, DEFAULT_LOCATION_ID) if has_item else None,
                visible=_flag(item, "visible", here, default=True),
            )
        )
    return tuple(variants)


def _choices(
    raw: object, options: tuple[OptionSpec, ...], where: str
) -> tuple[tuple[str, str], ...]:
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where}.choices: expected a mapping such as {{Size: M}}")
    names = [o.name for o in options]
    if sorted(map(str, raw)) != sorted(names):
        raise ConfigError(f"{where}.choices: must name exactly the options {', '.join(names)}")
    result = []
    for option in options:
        value = str(raw[option.name])
        if value not in option.choices:
            raise ConfigError(f"{where}.choices.{option.name}: {value!r} is not one of its choices")
        result.append((option.name, value))
    return tuple(result)


def _reject_unknown(raw: Mapping[Any, Any], allowed: frozenset[str], where: str) -> None:
    unknown = set(map(str, raw)) - allowed
    if unknown:
        raise ConfigError(
            f"{where}: unknown key(s) {', '.join(sorted(unknown))}; "
            f"allowed: {', '.join(sorted(allowed))}"
        )


def _text(
    raw: Mapping[str, Any], key: str, where: str, *, required: bool = False, max_len: int
) -> str:
    value = raw.get(key)
    if value is None:
        if required:
            raise ConfigError(f"{where}.{key}: required")
        return ""
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        raise ConfigError(f"{where}.{key}: expected text")
    text = str(value)
    if len(text) > max_len or (required and not text):
        raise ConfigError(f"{where}.{key}: must be 1..{max_len} characters")
    return text


def _flag(raw: Mapping[str, Any], key: str, where: str, *, default: bool) -> bool:
    value = raw.get(key, default)
    if not isinstance(value, bool):
        raise ConfigError(f"{where}.{key}: expected true or false, not {value!r}")
    return value


def _number(raw: Mapping[str, Any], key: str, where: str, *, default: float) -> float:
    value = raw.get(key, default)
    if not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
        raise ConfigError(f"{where}.{key}: expected a non-negative number, not {value!r}")
    return float(value)


def _quantity(raw: Mapping[str, Any], where: str) -> int:
    value = raw.get("quantity", 0)
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_QUANTITY:
        raise ConfigError(
            f"{where}.quantity: expected a whole number 0..{MAX_QUANTITY}, not {value!r}"
        )
    return value


def _guid(raw: Mapping[str, Any], where: str) -> str | None:
    value = raw.get("id")
    if value is None:
        return None
    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        raise ConfigError(f"{where}.id: expected a GUID, not {value!r}") from None
