"""Where a municipality's territory is: declared postcodes and/or a GeoJSON (Multi)Polygon.

Pure code: nx-27017 has no `$geoWithin`, so the store narrows candidates with a bounding-box
range query on `lat`/`lon` and `contains` decides exactly.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

Ring = list[tuple[float, float]]  # (lon, lat) pairs, GeoJSON order


class TerritoryError(ValueError):
    """The GeoJSON given is not a usable polygon."""


@dataclass(frozen=True)
class Territory:
    postcodes: frozenset[str]
    # Each polygon is [outer ring, *holes].
    polygons: tuple[tuple[Ring, ...], ...] = ()

    @classmethod
    def build(cls, postcodes: list[str] | None, geojson: dict[str, Any] | str | None) -> Territory:
        return cls(frozenset(p.strip().upper() for p in postcodes or []), parse_polygons(geojson))

    @property
    def bbox(self) -> tuple[float, float, float, float] | None:
        """(min_lon, min_lat, max_lon, max_lat) of every outer ring, or None without polygons."""
        points = [pt for poly in self.polygons for pt in poly[0]]
        if not points:
            return None
        lons, lats = [p[0] for p in points], [p[1] for p in points]
        return min(lons), min(lats), max(lons), max(lats)

    def contains(
        self, postcode: str | None = None, lat: float | None = None, lon: float | None = None
    ) -> bool:
        if postcode and postcode.strip().upper() in self.postcodes:
            return True
        if lat is None or lon is None:
            return False
        return any(_in_polygon(lon, lat, poly) for poly in self.polygons)


def parse_polygons(geojson: dict[str, Any] | str | None) -> tuple[tuple[Ring, ...], ...]:
    """Accept a Polygon or MultiPolygon geometry (or a Feature wrapping one)."""
    if geojson is None:
        return ()
    if isinstance(geojson, str):
        try:
            geojson = json.loads(geojson)
        except ValueError as exc:
            raise TerritoryError("territory polygon is not valid JSON") from exc
    if not isinstance(geojson, dict):
        raise TerritoryError("territory polygon must be a GeoJSON object")
    if geojson.get("type") == "Feature":
        return parse_polygons(geojson.get("geometry"))
    kind, coords = geojson.get("type"), geojson.get("coordinates")
    if kind == "Polygon":
        return (_polygon(coords),)
    if kind == "MultiPolygon" and isinstance(coords, list) and coords:
        return tuple(_polygon(p) for p in coords)
    raise TerritoryError("territory polygon must be a GeoJSON Polygon or MultiPolygon")


def _polygon(coords: Any) -> tuple[Ring, ...]:
    if not isinstance(coords, list) or not coords:
        raise TerritoryError("a polygon needs at least one ring")
    rings = []
    for ring in coords:
        if not isinstance(ring, list) or len(ring) < 4:
            raise TerritoryError("a polygon ring needs at least 4 positions (closed)")
        points: Ring = []
        for pos in ring:
            if (
                not isinstance(pos, list | tuple)
                or len(pos) < 2
                or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in pos[:2])
            ):
                raise TerritoryError("a position is [longitude, latitude]")
            lon, lat = float(pos[0]), float(pos[1])
            if not (-180 <= lon <= 180 and -90 <= lat <= 90):
                raise TerritoryError("a position is out of range")
            points.append((lon, lat))
        if points[0] != points[-1]:
            raise TerritoryError("a polygon ring must be closed (first position = last)")
        rings.append(points)
    return tuple(rings)


def _in_ring(x: float, y: float, ring: Ring) -> bool:
    # Ray casting: count edge crossings of a horizontal ray going right from (x, y).
    inside = False
    for (x1, y1), (x2, y2) in pairwise(ring):
        if (y1 > y) != (y2 > y):
            x_cross = x1 + (y - y1) * (x2 - x1) / (y2 - y1)
            if x < x_cross:
                inside = not inside
    return inside


def _in_polygon(x: float, y: float, polygon: tuple[Ring, ...]) -> bool:
    outer, *holes = polygon
    return _in_ring(x, y, outer) and not any(_in_ring(x, y, hole) for hole in holes)


def belongs_to(campaign: dict[str, Any], slug: str, territory: Territory) -> bool:
    """A campaign belongs to a city when it names it or lies inside its territory."""
    if campaign.get("municipality") == slug:
        return True
    return territory.contains(campaign.get("postcode"), campaign.get("lat"), campaign.get("lon"))


def located_by(campaign: dict[str, Any], slug: str, territory: Territory) -> str | None:
    """How a campaign is found on the city's territory, for a reviewer to check: its point in
    the polygon (`area`), its postcode (`postcode`), or only naming the city (`named`)."""
    lat, lon = campaign.get("lat"), campaign.get("lon")
    if lat is not None and lon is not None and territory.contains(None, lat, lon):
        return "area"
    if territory.contains(campaign.get("postcode")):
        return "postcode"
    return "named" if campaign.get("municipality") == slug else None
