"""Generate realistic stores of any size, deterministically from a seed.

Large stores exercise what small hand-written ones cannot: paging past 10,000 offsets,
products with hundreds of variants, and the odd data real shops accumulate. Each store
mixes option-less products (about a third), products with a handful of variants (most),
and a few with hundreds; about 5% are hidden, about 10% untracked, and a few variants have
empty or duplicate SKUs. The same ``(products, seed)`` always gives the same store, ids
included; 12,000 products (about 100,000 variants) take a second or two.
"""

from __future__ import annotations

import itertools
import random

from syncd_emulator.spec import (
    DEFAULT_LOCATION_ID,
    FIRST_NUMERIC_ID,
    OptionSpec,
    ProductSpec,
    StoreSpec,
    VariantSpec,
)

HIDDEN_SHARE = 0.05
UNTRACKED_SHARE = 0.10
OPTIONLESS_SHARE = 0.35
LARGE_SHARE = 0.02
EMPTY_SKU_SHARE = 0.01
DUPLICATE_SKU_SHARE = 0.001

ADJECTIVES = (
    "Classic", "Vintage", "Organic", "Essential", "Heavyweight", "Everyday", "Limited", "Retro",
    "Minimal", "Bold", "Soft", "Premium", "Recycled", "Studio", "Coastal", "Alpine",
)
COLOURS = (
    "Black", "White", "Red", "Navy", "Green", "Grey", "Sand", "Olive", "Pink", "Yellow",
    "Orange", "Teal", "Purple", "Brown", "Sky", "Cream",
)
SIZES = ("XS", "S", "M", "L", "XL", "XXL", "3XL")
SHOE_SIZES = tuple(str(n) for n in range(35, 49))

# (SKU code, noun, options): option-less kinds have no options.
OPTIONLESS_KINDS = (
    ("MUG", "Mug"), ("POSTER", "Poster"), ("NOTEBOOK", "Notebook"), ("STICKERS", "Sticker Pack"),
    ("TOTE", "Tote Bag"), ("CANDLE", "Candle"), ("KEYRING", "Keyring"), ("PIN", "Enamel Pin"),
    ("BOTTLE", "Water Bottle"), ("BOOK", "Cookbook"),
)
SMALL_KINDS = (
    ("TSHIRT", "T-shirt", ("Size", "Colour")),
    ("HOODIE", "Hoodie", ("Size", "Colour")),
    ("CAP", "Cap", ("Colour",)),
    ("SOCKS", "Socks", ("Size",)),
    ("BEANIE", "Beanie", ("Colour",)),
    ("PRINT", "Art Print", ("Format", "Frame")),
)
FORMATS = ("A5", "A4", "A3", "A2", "50x70")
FRAMES = ("None", "Black", "Oak", "White")
WIDTHS = ("Narrow", "Regular", "Wide")


def generate_store(products: int, *, seed: int) -> StoreSpec:
    """A store of ``products`` products, the same for the same ``seed``."""
    rng = random.Random(f"syncd-emulator/{seed}")
    specs: list[ProductSpec] = []
    numeric_id = FIRST_NUMERIC_ID
    skus_so_far: list[str] = []
    for index in range(products):
        numeric_id += rng.randint(1_000, 60_000)
        specs.append(_product(rng, index, numeric_id, skus_so_far))
    return StoreSpec(products=tuple(specs), source=f"generated: {products} products, seed {seed}")


_VARIANT_NIBBLE = {f"{n:x}": "89ab"[n & 3] for n in range(16)}


def _guid(rng: random.Random) -> str:
    """A random version-4 GUID drawn from ``rng`` (much cheaper than ``uuid.UUID``)."""
    h = f"{rng.getrandbits(128):032x}"
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{_VARIANT_NIBBLE[h[16]]}{h[17:20]}-{h[20:]}"


def _product(
    rng: random.Random, index: int, numeric_id: int, skus_so_far: list[str]
) -> ProductSpec:
    roll = rng.random()
    adjective = rng.choice(ADJECTIVES)
    price = round(rng.uniform(4.0, 150.0), 2)
    track = rng.random() >= UNTRACKED_SHARE
    if roll < OPTIONLESS_SHARE:
        code, noun = rng.choice(OPTIONLESS_KINDS)
        options: tuple[OptionSpec, ...] = ()
    elif roll < OPTIONLESS_SHARE + LARGE_SHARE:
        code, noun = "SNEAKER", "Sneaker"
        options = (
            OptionSpec("Size", SHOE_SIZES[: rng.randint(6, len(SHOE_SIZES))]),
            OptionSpec("Colour", COLOURS[: rng.randint(4, len(COLOURS))], kind="color"),
            OptionSpec("Width", WIDTHS[: rng.randint(2, 3)]),
        )
    else:
        code, noun, names = rng.choice(SMALL_KINDS)
        options = tuple(_small_option(rng, name) for name in names)
    name = f"{adjective} {noun} {index + 1:05d}"
    base_sku = f"{code}-{index + 1:05d}"
    product_id = _guid(rng)
    if options:
        # Pair each choice with its option name and SKU part once, then combine.
        pairs = [[((o.name, c), c.upper()) for c in o.choices] for o in options]
        variants = tuple(
            _variant(
                rng,
                choices=tuple(pair for pair, _ in combo),
                sku="-".join((base_sku, *(part for _, part in combo))),
                track=track,
                price=price,
                skus_so_far=skus_so_far,
            )
            for combo in itertools.product(*pairs)
        )
        product_sku = ""
    else:
        variants = (_variant(rng, choices=(), sku=base_sku, track=track, price=price,
                             skus_so_far=skus_so_far),)
        product_sku = variants[0].sku
    return ProductSpec(
        id=product_id,
        numeric_id=numeric_id,
        name=name,
        sku=product_sku,
        visible=rng.random() >= HIDDEN_SHARE,
        track=track,
        price=price,
        options=options,
        variants=variants,
        inventory_item_id=_guid(rng),
    )


def _small_option(rng: random.Random, name: str) -> OptionSpec:
    if name == "Size":
        start = rng.randint(0, 2)
        return OptionSpec("Size", SIZES[start : start + rng.randint(2, 5)])
    if name == "Colour":
        return OptionSpec("Colour", tuple(rng.sample(COLOURS, rng.randint(1, 4))), kind="color")
    if name == "Format":
        return OptionSpec("Format", FORMATS[: rng.randint(2, len(FORMATS))])
    return OptionSpec("Frame", FRAMES[: rng.randint(1, len(FRAMES))])


def _variant(
    rng: random.Random,
    *,
    choices: tuple[tuple[str, str], ...],
    sku: str,
    track: bool,
    price: float,
    skus_so_far: list[str],
) -> VariantSpec:
    sku_roll = rng.random()
    if sku_roll < EMPTY_SKU_SHARE:
        sku = ""
    elif sku_roll < EMPTY_SKU_SHARE + DUPLICATE_SKU_SHARE and skus_so_far:
        sku = rng.choice(skus_so_far)
    if sku:
        skus_so_far.append(sku)
    if track:
        stock_roll = rng.random()
        if stock_roll < 0.12:
            quantity = 0
        elif stock_roll < 0.14:
            quantity = rng.randint(500, 5_000)
        else:
            quantity = rng.randint(1, 120)
        in_stock = quantity > 0
    else:
        quantity = 0
        in_stock = rng.random() < 0.85
    return VariantSpec(
        id=_guid(rng),
        choices=choices,
        sku=sku,
        quantity=quantity,
        in_stock=in_stock,
        price=price,
        item_id=_guid(rng),
    )


__all__ = ["DEFAULT_LOCATION_ID", "generate_store"]
