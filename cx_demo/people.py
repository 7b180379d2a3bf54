"""The population: hidden personas, names, countries, languages and every identifier a person carries.

`make_people` returns one polars row per person (the person's true attributes, used by the simulation and
the truth files) and one row per device (anonymous_id). Identifier noise that depends on the source (case,
spaces, local vs E.164 phones, typos) is applied when a source is written, in `identity_noise.py`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from cx_demo.frames import frame
from cx_demo.sampling import pick

SHOP_DOMAIN = "lindenhaus.de"
BRAND_HANDLE = "@lindenhaus"
SHOP_TEST_EMAIL = f"test@{SHOP_DOMAIN}"
SHOP_TEST_PERSON = "SHOP_TEST"  # the shop's own test account: an identifier without a customer behind it


@dataclass(frozen=True)
class Persona:
    name: str
    share: float
    crm_rate: float
    channel_mix: tuple[float, float, float]  # web, app, store share of purchases
    orders_per_year: float
    basket_eur: float
    return_rate: float
    browse_per_order: float  # sessions without a purchase per purchase
    consent: tuple[float, float, float, float]  # email, sms, phone, push
    loyalty_rate: float
    social_rate: float
    issue_rate: float  # multiplier on service issues
    churn_per_year: float
    open_rate: float
    click_rate: float
    segment_label: str


PERSONAS = (
    Persona("loyal_omnichannel", 0.16, 0.98, (0.4, 0.3, 0.3), 8.0, 85, 0.12, 3.0, (0.85, 0.4, 0.5, 0.5), 0.9, 0.3, 0.8, 0.05, 0.45, 0.12, "vip_omnichannel"),
    Persona("digital_native", 0.24, 0.85, (0.45, 0.5, 0.05), 5.0, 55, 0.22, 4.5, (0.7, 0.3, 0.15, 0.7), 0.25, 0.55, 1.0, 0.18, 0.25, 0.06, "online_first"),
    Persona("store_regular", 0.20, 0.75, (0.12, 0.03, 0.85), 6.0, 45, 0.06, 1.5, (0.55, 0.2, 0.6, 0.05), 0.75, 0.08, 0.7, 0.12, 0.3, 0.05, "store_loyal"),
    Persona("bargain_hunter", 0.22, 0.8, (0.55, 0.25, 0.2), 4.5, 35, 0.25, 5.5, (0.9, 0.5, 0.2, 0.5), 0.5, 0.3, 1.3, 0.28, 0.4, 0.15, "deal_seeker"),
    Persona("new_one_off", 0.18, 0.55, (0.7, 0.1, 0.2), 1.3, 50, 0.15, 2.0, (0.45, 0.1, 0.1, 0.1), 0.15, 0.15, 1.1, 0.45, 0.15, 0.03, "new_customer"),
)
PERSONA_NAMES = tuple(p.name for p in PERSONAS)
SEGMENT_AGREEMENT = 0.85

FIRST_NAMES = (
    "Anna", "Lena", "Lea", "Sophie", "Marie", "Hannah", "Laura", "Julia", "Katharina", "Sabine", "Petra", "Monika",
    "Jörg", "Jürgen", "Günter", "Björn", "Sören", "Jürgen", "Max", "Paul", "Lukas", "Felix", "Jonas", "Leon",
    "Thomas", "Michael", "Stefan", "Andreas", "Markus", "Tobias", "Matthias", "Daniel", "Florian", "Sebastian",
    "Chantal", "Zoë", "Élodie", "Mehmet", "Ayşe", "Fatma", "Emre", "Luca", "Giulia", "Olga", "Igor", "Priya",
    "Noah", "Emma", "Mia", "Ben", "Elias", "Ida", "Greta", "Ursula", "Heinz", "Käthe", "Gisela", "Lotte",
)
LAST_NAMES = (
    "Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Schulz", "Hoffmann",
    "Schäfer", "Koch", "Bauer", "Richter", "Klein", "Wolf", "Schröder", "Neumann", "Schwarz", "Zimmermann",
    "Braun", "Krüger", "Hofmann", "Hartmann", "Lange", "Schmitt", "Werner", "Krause", "Meier", "Lehmann",
    "Huber", "Gruber", "Pichler", "Steiner", "Moser", "Keller", "Brunner", "Baumann", "Frei", "Gerber",
    "Yılmaz", "Kaya", "Nowak", "Kowalski", "Rossi", "Öztürk", "Weiß", "Groß", "Strauß", "Fuß",
)
COUNTRY_WEIGHTS = {"DE": 0.8, "AT": 0.12, "CH": 0.08}
EMAIL_DOMAINS = {
    "DE": ("gmx.de", "web.de", "t-online.de", "gmail.com", "outlook.de", "yahoo.de", "posteo.de", "icloud.com"),
    "AT": ("gmx.at", "aon.at", "chello.at", "gmail.com", "a1.net"),
    "CH": ("bluewin.ch", "gmx.ch", "hispeed.ch", "gmail.com", "sunrise.ch"),
}
MOBILE_PREFIX = {"DE": ("151", "152", "157", "160", "162", "163", "170", "171", "172", "173", "175", "176", "177", "178", "179"),
                 "AT": ("650", "660", "664", "676", "680", "699"), "CH": ("76", "77", "78", "79")}
LANDLINE_PREFIX = {"DE": ("30", "40", "89", "221", "69", "711", "211", "351"), "AT": ("1", "316", "662", "512"), "CH": ("44", "31", "61", "21")}
DIAL_CODE = {"DE": "49", "AT": "43", "CH": "41"}
GENERIC_INFO_EVERY = 400  # one shared info@ address per this many people (a small family business)
HOUSEHOLD_SHARE = 0.12  # people sharing a landline with the person before them
FAMILY_TABLET_SHARE = 0.4  # of those, how many also share the family tablet
DEVICE_KINDS = ("desktop", "mobile", "tablet")
ASCII = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "é": "e", "ë": "e", "ş": "s", "ı": "i", "É": "E", "Ä": "Ae", "Ö": "Oe", "Ü": "Ue"})


def ascii_name(name: str) -> str:
    return name.translate(ASCII).lower().replace(" ", "")


def _subscriber(index: np.ndarray, salt: int, digits: int) -> np.ndarray:
    """A distinct, scrambled subscriber number per index (an affine map modulo a power of ten is a bijection)."""
    modulus = 10**digits
    return ((index * 7_368_787 + salt) % modulus).astype(np.int64)


def make_people(rng: np.random.Generator, first_index: int, n: int, days: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    """People `first_index .. first_index+n-1` and their devices, for a window of `days` days."""
    index = np.arange(first_index, first_index + n, dtype=np.int64)
    persona = rng.choice(len(PERSONAS), n, p=[p.share for p in PERSONAS])
    param = lambda attr: np.array([getattr(p, attr) for p in PERSONAS])[persona]  # noqa: E731
    country = rng.choice(list(COUNTRY_WEIGHTS), n, p=list(COUNTRY_WEIGHTS.values()))
    language = np.where(rng.random(n) < np.where(country == "CH", 0.3, 0.24), "en", "de")
    first = pick(rng, FIRST_NAMES, n)
    last = pick(rng, LAST_NAMES, n)
    first_ascii = np.array([ascii_name(s) for s in first], dtype=object)
    last_ascii = np.array([ascii_name(s) for s in last], dtype=object)
    domain = np.array([EMAIL_DOMAINS[c][k % len(EMAIL_DOMAINS[c])] for c, k in zip(country, rng.integers(0, 99, n))], dtype=object)
    style = rng.integers(0, 4, n)
    number = index.astype(str).astype(object)
    local = np.select(
        [style == 0, style == 1, style == 2],
        [first_ascii + "." + last_ascii + number, np.array([f[0] for f in first_ascii], dtype=object) + last_ascii + number,
         first_ascii + "_" + last_ascii + "." + number],
        default=last_ascii + "." + first_ascii + number,
    )
    email = local + "@" + domain
    # A few small businesses: several people order with the same info@ address.
    uses_info = (index % GENERIC_INFO_EVERY) < 3
    business_owner = (index - index % GENERIC_INFO_EVERY - first_index).clip(0, n - 1)
    email = np.where(uses_info, "info@" + last_ascii[business_owner] + "-handwerk.de", email)

    mobile_prefix = np.array([MOBILE_PREFIX[c][k % len(MOBILE_PREFIX[c])] for c, k in zip(country, rng.integers(0, 99, n))], dtype=object)
    mobile_number = _subscriber(index, 1_234_567, 7).astype(str).astype(object)
    mobile_number = np.array([s.zfill(7) for s in mobile_number], dtype=object)
    dial = np.array([DIAL_CODE[c] for c in country], dtype=object)
    has_phone = rng.random(n) < 0.82
    # Households: a person shares the landline (and sometimes the family tablet) of the person before them.
    in_household = (rng.random(n) < HOUSEHOLD_SHARE) & (np.arange(n) > 0)
    head = np.where(in_household, np.arange(n) - 1, np.arange(n))
    for _round in range(2):  # a chain of three shares the first person's line
        head = head[head]
    landline_prefix = np.array([LANDLINE_PREFIX[c][k % len(LANDLINE_PREFIX[c])] for c, k in zip(country, rng.integers(0, 99, n))], dtype=object)
    landline = np.array([s.zfill(7) for s in _subscriber(index, 7_654_321, 7).astype(str)], dtype=object)
    shares_line = np.zeros(n, dtype=bool)
    shares_line[head[in_household]] = True
    shares_line |= in_household
    household_local = np.where(shares_line, landline_prefix[head] + " " + landline[head], None)
    household_e164 = np.where(shares_line, "+" + dial[head] + landline_prefix[head] + landline[head], None)

    is_crm = rng.random(n) < param("crm_rate")
    consent = rng.random((n, 4)) < np.array([p.consent for p in PERSONAS])[persona]
    has_loyalty = rng.random(n) < param("loyalty_rate")
    has_handle = rng.random(n) < param("social_rate")
    handle_style = rng.integers(0, 3, n)
    handle = np.select(
        [handle_style == 0, handle_style == 1],
        ["@" + first_ascii + "_" + last_ascii, "@" + first_ascii + number],
        default="@" + np.array([f[:3] for f in first_ascii], dtype=object) + np.array([s[:3] for s in last_ascii], dtype=object) + "_" + number,
    )
    segment_true = param("segment_label").astype(object)
    random_label = np.array([p.segment_label for p in PERSONAS], dtype=object)[rng.integers(0, len(PERSONAS), n)]
    segment = np.where(rng.random(n) < SEGMENT_AGREEMENT, segment_true, random_label)
    # New/one-off customers mostly appear during the window; the others were customers before it.
    is_new = ((persona == PERSONA_NAMES.index("new_one_off")) & (rng.random(n) < 0.8)) | (rng.random(n) < 0.06)
    created_day = np.where(is_new, rng.integers(0, max(days - 1, 1), n), -rng.integers(30, 3_000, n))
    churn_day = np.where(
        rng.random(n) < 1 - np.exp(-param("churn_per_year") * days / 365),
        rng.integers(0, max(days, 1), n),
        np.iinfo(np.int32).max,
    )
    churn_day = np.maximum(churn_day, np.maximum(created_day, 0) + 14)

    people = frame(
        {
            "person_index": index,
            "person_id": [f"P{i:07d}" for i in index],
            "persona": np.array(PERSONA_NAMES, dtype=object)[persona],
            "persona_code": persona,
            "country": country,
            "language": language,
            "first_name": first,
            "last_name": last,
            "email": email,
            "phone_local": np.where(has_phone, "0" + mobile_prefix + " " + mobile_number, None),
            "phone_e164": np.where(has_phone, "+" + dial + mobile_prefix + mobile_number, None),
            "household_phone_local": household_local,
            "household_phone_e164": household_e164,
            "loyalty_id": np.where(has_loyalty, np.array([f"L{v:08d}" for v in _subscriber(index, 31_337, 8)], dtype=object), None),
            "social_handle": np.where(has_handle, handle, None),
            "is_crm": is_crm,
            "customer_id": np.where(is_crm, np.array([f"C{v:07d}" for v in _subscriber(index, 4_711, 7)], dtype=object), None),
            "consent_email": consent[:, 0],
            "consent_sms": consent[:, 1] & has_phone,
            "consent_phone": consent[:, 2] & has_phone,
            "consent_push": consent[:, 3],
            "segment": segment,
            "birth_year": rng.integers(1945, 2008, n),
            "created_day": created_day.astype(np.int64),
            "churn_day": churn_day.astype(np.int64),
        })
    return people, _devices(rng, people, head, in_household)


def _devices(rng: np.random.Generator, people: pl.DataFrame, head: np.ndarray, in_household: np.ndarray) -> pl.DataFrame:
    """1-4 devices (cookies / app installs) per person; some household members share the family tablet."""
    n = people.height
    persona = people["persona_code"].to_numpy()
    app_share = np.array([p.channel_mix[1] for p in PERSONAS])[persona]
    count = 1 + rng.binomial(2, 0.45, n) + (rng.random(n) < app_share)
    owner = np.repeat(np.arange(n), count)
    slot = np.arange(len(owner)) - np.repeat(np.cumsum(count) - count, count)
    is_app = (slot == count[owner] - 1) & (rng.random(len(owner)) < app_share[owner] * 1.5)
    kind = np.where(is_app, "mobile", np.asarray(DEVICE_KINDS, dtype=object)[np.where(slot == 0, 0, rng.integers(0, 3, len(owner)))])
    anonymous_id = np.array([f"anon-{v:016x}" for v in rng.integers(0, 2**62, len(owner))], dtype=object)
    devices = frame(
        {"owner": owner, "slot": slot, "platform": np.where(is_app, "app", "web"), "device": kind, "anonymous_id": anonymous_id})
    family = np.flatnonzero(in_household & (rng.random(n) < FAMILY_TABLET_SHARE))
    shared = frame({"owner": family, "slot": np.full(len(family), -1), "platform": "web", "device": "tablet"})
    tablets = devices.filter(pl.col("slot") == 0).select("owner", "anonymous_id").rename({"owner": "head"})
    shared = shared.with_columns(head=head[family]).join(tablets, on="head", how="left", maintain_order="left").drop("head")
    return pl.concat([devices, shared.select(devices.columns)], how="vertical_relaxed")
