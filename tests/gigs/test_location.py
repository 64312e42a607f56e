"""Where a gig is delivered: online, or on site within a radius of a city or a point (#18)."""

from __future__ import annotations

import math

import pytest

from app.accounts.models import User
from app.gigs import services
from app.gigs.models import Gig
from app.gigs.services import GigError, GigStateError
from tenants.db import db


def _gig(gig_id):
    return db.session.get(Gig, gig_id)


def _location(gig):
    return (
        gig.delivery_mode,
        gig.location_name,
        gig.location_country,
        gig.latitude,
        gig.longitude,
        gig.service_radius_km,
    )


ONLINE = ("online", None, None, None, None, None)


@pytest.fixture
def draft(make_seller, make_gig):
    """``draft(tenant, status="draft")`` -> (seller id, gig id)."""

    def factory(tenant, status="draft"):
        seller_id = make_seller(tenant)
        return seller_id, make_gig(tenant, seller_id, status=status)

    return factory


def test_an_on_site_gig_is_based_in_a_city_with_a_radius(acme, draft, in_tenant, location_on, events_of):
    location_on(acme)
    _seller_id, gig_id = draft(acme, status="active")
    before = len(events_of(acme))
    with in_tenant(acme):
        gig = _gig(gig_id)
        version = gig.version
        services.set_gig_location(gig, delivery_mode="on_site", location="Berlin, Germany", radius_km=15)
        db.session.commit()
        gig = _gig(gig_id)
        assert gig.delivery_mode == "on_site" and gig.service_radius_km == 15
        assert (gig.location_name, gig.location_country) == ("Berlin", "DE")
        assert math.isclose(gig.latitude, 52.52, abs_tol=0.05) and math.isclose(
            gig.longitude, 13.4, abs_tol=0.05
        )
        assert gig.location_label == "Berlin, Germany"
        assert gig.version == version + 1
    assert events_of(acme)[before:] == [("gig.updated", {"gig_id": gig_id})]


def test_the_default_country_wins_among_cities_of_one_name(acme, draft, in_tenant, location_on):
    _seller_id, gig_id = draft(acme)
    location_on(acme, country="CA")
    with in_tenant(acme):
        services.set_gig_location(_gig(gig_id), delivery_mode="on_site", location="London", radius_km=10)
        assert _gig(gig_id).location_country == "CA"
    location_on(acme, country=None)
    with in_tenant(acme):
        services.set_gig_location(_gig(gig_id), delivery_mode="on_site", location="London", radius_km=10)
        assert _gig(gig_id).location_country == "GB"
        services.set_gig_location(_gig(gig_id), delivery_mode="on_site", location="London, CA", radius_km=10)
        assert _gig(gig_id).location_country == "CA"


def test_a_geonames_id_and_a_point_are_places_too(acme, draft, in_tenant, location_on):
    location_on(acme)
    _seller_id, gig_id = draft(acme)
    with in_tenant(acme):
        gig = services.set_gig_location(_gig(gig_id), delivery_mode="on_site", location=2950159, radius_km=5)
        assert gig.location_name == "Berlin"
        # A point near Munich is named after it; one in the open sea has only its coordinates.
        gig = services.set_gig_location(
            _gig(gig_id), delivery_mode="on_site", latitude=48.14, longitude=11.58, radius_km=500
        )
        assert (gig.location_name, gig.location_country, gig.latitude, gig.longitude) == (
            "Munich",
            "DE",
            48.14,
            11.58,
        )
        gig = services.set_gig_location(
            _gig(gig_id), delivery_mode="on_site", latitude="-40.5", longitude=-30.25, radius_km=1
        )
        assert gig.location_name is None and gig.location_label == "40.50° S, 30.25° W"


def test_online_clears_the_place(acme, draft, in_tenant, location_on):
    location_on(acme)
    _seller_id, gig_id = draft(acme)
    with in_tenant(acme):
        services.set_gig_location(_gig(gig_id), delivery_mode="on_site", location="Paris", radius_km=30)
        db.session.commit()
        services.set_gig_location(_gig(gig_id), delivery_mode="online")
        db.session.commit()
        assert _location(_gig(gig_id)) == ONLINE
        assert _gig(gig_id).location_label is None


BAD = [
    ({"delivery_mode": "by_post"}, "delivery_mode"),
    ({"delivery_mode": ["online"]}, "delivery_mode"),
    ({"delivery_mode": "on_site", "radius_km": 10}, "location"),
    ({"delivery_mode": "on_site", "location": "   ", "radius_km": 10}, "location"),
    ({"delivery_mode": "on_site", "location": "Qwxyzville", "radius_km": 10}, "location"),
    ({"delivery_mode": "on_site", "location": "x" * 121, "radius_km": 10}, "location"),
    ({"delivery_mode": "on_site", "location": ["Berlin"], "radius_km": 10}, "location"),
    (
        {"delivery_mode": "on_site", "location": "Berlin", "latitude": 1, "longitude": 2, "radius_km": 10},
        "location",
    ),
    ({"delivery_mode": "on_site", "latitude": 91, "longitude": 0, "radius_km": 10}, "latitude"),
    ({"delivery_mode": "on_site", "latitude": 0, "longitude": -180.5, "radius_km": 10}, "longitude"),
    ({"delivery_mode": "on_site", "latitude": "north", "longitude": 0, "radius_km": 10}, "latitude"),
    ({"delivery_mode": "on_site", "latitude": float("nan"), "longitude": 0, "radius_km": 10}, "latitude"),
    ({"delivery_mode": "on_site", "latitude": 10, "radius_km": 10}, "longitude"),
    ({"delivery_mode": "on_site", "latitude": True, "longitude": 0, "radius_km": 10}, "latitude"),
    ({"delivery_mode": "on_site", "location": "Berlin"}, "service_radius_km"),
    ({"delivery_mode": "on_site", "location": "Berlin", "radius_km": 0}, "service_radius_km"),
    ({"delivery_mode": "on_site", "location": "Berlin", "radius_km": 501}, "service_radius_km"),
    ({"delivery_mode": "on_site", "location": "Berlin", "radius_km": "abc"}, "service_radius_km"),
    ({"delivery_mode": "on_site", "location": "Berlin", "radius_km": "15"}, "service_radius_km"),
    ({"delivery_mode": "on_site", "location": "Berlin", "radius_km": 2.5}, "service_radius_km"),
    ({"delivery_mode": "on_site", "location": "Berlin", "radius_km": True}, "service_radius_km"),
    ({"delivery_mode": "online", "location": "Berlin"}, "location"),
]


@pytest.mark.parametrize(("kwargs", "field"), BAD)
def test_bad_locations_are_refused_and_nothing_changes(acme, draft, in_tenant, location_on, kwargs, field):
    location_on(acme)
    _seller_id, gig_id = draft(acme)
    with in_tenant(acme):
        services.set_gig_location(_gig(gig_id), delivery_mode="on_site", location="Lyon", radius_km=20)
        db.session.commit()
        before = (_location(_gig(gig_id)), _gig(gig_id).version)
        with pytest.raises(GigError) as exc:
            services.set_gig_location(_gig(gig_id), **kwargs)
        assert field in exc.value.errors, exc.value.errors
        db.session.rollback()
        assert (_location(_gig(gig_id)), _gig(gig_id).version) == before


def test_unknown_city_says_to_pick_from_the_list(acme, draft, in_tenant, location_on):
    location_on(acme)
    _seller_id, gig_id = draft(acme)
    with in_tenant(acme), pytest.raises(GigError) as exc:
        services.set_gig_location(_gig(gig_id), delivery_mode="on_site", location="Nowhereville", radius_km=5)
    assert exc.value.errors == {"location": "We don't know that place. Pick a city from the list."}


def test_on_site_is_refused_while_the_marketplace_lists_online_services_only(acme, draft, in_tenant):
    _seller_id, gig_id = draft(acme)  # location is off by default
    with in_tenant(acme):
        with pytest.raises(GigError) as exc:
            services.set_gig_location(_gig(gig_id), delivery_mode="on_site", location="Berlin", radius_km=5)
        assert exc.value.errors == {"delivery_mode": "This marketplace lists online services only."}
        services.set_gig_location(_gig(gig_id), delivery_mode="online")  # online is always fine
        assert _location(_gig(gig_id)) == ONLINE


def test_an_archived_gig_keeps_its_place(acme, draft, in_tenant, location_on):
    location_on(acme)
    _seller_id, gig_id = draft(acme, status="archived")
    with in_tenant(acme), pytest.raises(GigStateError):
        services.set_gig_location(_gig(gig_id), delivery_mode="on_site", location="Berlin", radius_km=5)


def test_setting_the_same_place_again_changes_nothing(acme, draft, in_tenant, location_on, events_of):
    location_on(acme)
    _seller_id, gig_id = draft(acme, status="active")
    with in_tenant(acme):
        services.set_gig_location(_gig(gig_id), delivery_mode="on_site", location="Berlin", radius_km=5)
        db.session.commit()
        version = _gig(gig_id).version
    count = len(events_of(acme))
    with in_tenant(acme):
        services.set_gig_location(_gig(gig_id), delivery_mode="on_site", location="Berlin", radius_km=5)
        db.session.commit()
        assert _gig(gig_id).version == version
    assert len(events_of(acme)) == count


# --- through create_gig / update_gig ------------------------------------------------------


def test_create_and_update_take_the_location_fields(
    acme, make_seller, in_tenant, location_on, kit, events_of
):
    location_on(acme)
    seller_id = make_seller(acme)
    with in_tenant(acme):
        seller = db.session.get(User, seller_id)
        gig = services.create_gig(
            seller,
            {
                "title": "I will photograph your wedding",
                "delivery_mode": "on_site",
                "location": "Vienna",
                "service_radius_km": 40,
            },
        )
        db.session.commit()
        gig_id = gig.id
        assert _location(_gig(gig_id))[:3] == ("on_site", "Vienna", "AT")
        # Only the radius: the place stays.
        services.update_gig(seller, _gig(gig_id), {"service_radius_km": 80})
        db.session.commit()
        assert _location(_gig(gig_id))[1:3] == ("Vienna", "AT") and _gig(gig_id).service_radius_km == 80
        # Only the place: the radius stays.
        services.update_gig(seller, _gig(gig_id), {"location": "Graz"})
        db.session.commit()
        assert (_gig(gig_id).location_name, _gig(gig_id).service_radius_km) == ("Graz", 80)
        services.update_gig(seller, _gig(gig_id), {"delivery_mode": "online"})
        db.session.commit()
        assert _location(_gig(gig_id)) == ONLINE


def test_update_reports_location_errors_with_the_others(acme, make_seller, make_gig, in_tenant, location_on):
    location_on(acme)
    seller_id = make_seller(acme)
    gig_id = make_gig(acme, seller_id)
    with in_tenant(acme):
        seller = db.session.get(User, seller_id)
        with pytest.raises(GigError) as exc:
            services.update_gig(seller, _gig(gig_id), {"title": "short", "delivery_mode": "on_site"})
        assert set(exc.value.errors) == {"title", "location", "service_radius_km"}
        db.session.rollback()
        assert _location(_gig(gig_id)) == ONLINE
        with pytest.raises(GigError) as exc:
            services.update_gig(seller, _gig(gig_id), {"service_radius_km": 10})  # an online gig
        assert set(exc.value.errors) == {"service_radius_km"}


def test_tenants_do_not_share_their_location_setting(acme, globex, draft, in_tenant, location_on):
    location_on(acme)
    _seller_id, gig_id = draft(globex)
    with in_tenant(globex), pytest.raises(GigError) as exc:
        services.set_gig_location(_gig(gig_id), delivery_mode="on_site", location="Berlin", radius_km=5)
    assert "delivery_mode" in exc.value.errors
