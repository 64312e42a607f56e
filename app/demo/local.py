"""The local-services demo marketplace (#18): cleaners, plumbers, electricians, gardeners, tutors
and handymen around a few real cities, each with a service area, so "plumber near Manchester
within 10 km" shows distances after `make run`.

``app/demo/seed.py`` uses this module for a tenant spec with ``"local": True``: its own category
tree (the starter tree is hidden), these gig templates, sellers based in ``CITIES`` (a base point
a few km from the city centre, a radius from ``RADII``), some tutors online. Same format as
``app/demo/catalog.py``.
"""

from __future__ import annotations

import math
import random

from app.demo.catalog import _s

TREE = [
    ("Cleaning", ["House Cleaning", "Deep Cleaning", "End of Tenancy Cleaning"]),
    ("Plumbing", ["Plumbing Repairs", "Boilers & Heating", "Bathroom Fitting"]),
    ("Electrical", ["Electrical Repairs", "Lighting & Sockets", "EV Charger Installation"]),
    ("Gardening", ["Lawn & Garden Care", "Hedge & Tree Trimming"]),
    ("Tutoring", ["Maths Tutoring", "Language Lessons", "Music Lessons"]),
    ("Handyman", ["Furniture Assembly", "Odd Jobs & Repairs"]),
]
MIX = {"Cleaning": 4, "Plumbing": 4, "Electrical": 3, "Gardening": 3, "Tutoring": 3, "Handyman": 3}
# The cities the sellers are based in (gazetteer names, all in the default country).
COUNTRY = "GB"
CITIES = ["Manchester", "London", "Birmingham", "Leeds", "Bristol"]
RADII = (5, 8, 10, 15, 20, 25, 30)
ONLINE_SHARE = {"Tutoring": 0.5}  # half of the tutors' gigs are online lessons

HEADLINES = {
    "Cleaning": ["Reliable home cleaner, {years} years of spotless homes", "Eco-friendly cleaning pro"],
    "Plumbing": ["Gas Safe plumber with {years} years on the tools", "Local plumber, same-week visits"],
    "Electrical": ["Qualified electrician, {years} years of safe installs", "NICEIC electrician"],
    "Gardening": ["Gardener and landscaper, {years} seasons", "Lawns, hedges and borders kept tidy"],
    "Tutoring": ["Patient tutor with {years} years of lessons", "Qualified teacher, home and online"],
    "Handyman": ["Handyman for the jobs you keep putting off", "{years} years of fixing and fitting"],
}
HOURLY_RATES = {
    "Cleaning": (15, 25),
    "Plumbing": (35, 60),
    "Electrical": (35, 60),
    "Gardening": (18, 30),
    "Tutoring": (25, 50),
    "Handyman": (22, 40),
}
PALETTES = {
    "Cleaning": ((14, 165, 233), (56, 189, 248), (255, 255, 255)),
    "Plumbing": ((30, 64, 175), (59, 130, 246), (255, 255, 255)),
    "Electrical": ((234, 179, 8), (249, 115, 22), (30, 20, 0)),
    "Gardening": ((21, 128, 61), (132, 204, 22), (255, 255, 255)),
    "Tutoring": ((124, 58, 237), (236, 72, 153), (255, 255, 255)),
    "Handyman": ((120, 53, 15), (217, 119, 6), (255, 255, 255)),
}

_VISIT = ["Arrival within the agreed slot", "All basic tools and materials", "Tidy-up afterwards"]

SUBCATEGORIES = {
    "House Cleaning": _s(
        ["I will clean your {a} home {b}", "I will do a {a} clean of your flat {b}"],
        ["two-bedroom", "family", "small", "three-bedroom", "city-centre"],
        ["every week", "every fortnight", "once", "before guests arrive"],
        ["cleaning", "house cleaning", "cleaner", "regular clean", "domestic cleaner"],
        [
            "Kitchen and bathrooms",
            "Dusting and hoovering",
            "Floors mopped",
            "Beds changed",
            "Inside the oven",
        ],
        (40, 70),
        (1, 3),
        ["A clean home without giving up your weekend.", "I bring my own eco-friendly products."],
        ("Do I need to be home?", "No: many clients leave a key or a code. I'm insured."),
    ),
    "Deep Cleaning": _s(
        ["I will deep clean your {a} {b}", "I will give your {b} a {a} deep clean"],
        ["whole", "spring", "top-to-bottom", "post-renovation"],
        ["kitchen", "house", "flat", "bathroom"],
        ["deep clean", "spring clean", "cleaning", "oven cleaning", "limescale"],
        [
            "Degreasing the kitchen",
            "Descaling bathrooms",
            "Skirting boards",
            "Inside cupboards",
            "Windows inside",
        ],
        (90, 160),
        (1, 4),
        ["The clean that gets behind the fridge.", "Ideal before a move, a party or a new baby."],
        ("How long does it take?", "A two-bedroom flat takes one cleaner about six hours."),
    ),
    "End of Tenancy Cleaning": _s(
        ["I will do your end of tenancy clean for a {a} {b}", "I will get your {b} deposit-ready ({a})"],
        ["one-bedroom", "two-bedroom", "three-bedroom", "studio"],
        ["flat", "house", "apartment"],
        ["end of tenancy", "move out clean", "deposit back", "cleaning", "landlord"],
        [
            "Inventory checklist",
            "Oven and hob",
            "Carpets hoovered",
            "Walls spot-cleaned",
            "Re-clean guarantee",
        ],
        (120, 220),
        (1, 3),
        ["Agents check everything: so do I.", "Free re-clean if your agent finds anything I missed."],
        ("Do you guarantee the deposit?", "I guarantee a free re-clean within 72 hours."),
    ),
    "Plumbing Repairs": _s(
        ["I will fix your {a} {b}", "I will repair a {a} {b} today"],
        ["leaking", "dripping", "blocked", "noisy", "broken"],
        ["tap", "toilet", "sink", "pipe", "shower"],
        ["plumber", "leak repair", "blocked drain", "plumbing", "emergency plumber"],
        [*_VISIT, "Replacement washers and seals", "Written report"],
        (60, 95),
        (1, 2),
        ["Most leaks are fixed in under an hour.", "Upfront price, no call-out surprises."],
        ("Do you charge a call-out fee?", "No: the package price includes the visit."),
    ),
    "Boilers & Heating": _s(
        ["I will {a} your {b}", "I will {a} your {b} before winter"],
        ["service", "repair", "bleed and balance", "power-flush"],
        ["boiler", "radiators", "central heating", "combi boiler"],
        ["boiler service", "gas safe", "heating", "radiators", "plumber"],
        ["Gas Safe registered engineer", "Safety checks", "Service certificate", "Pressure top-up"],
        (70, 120),
        (1, 3),
        ["An annual service keeps your warranty valid.", "Registered and insured."],
        ("Which boilers do you work on?", "Worcester Bosch, Vaillant, Ideal, Baxi and most others."),
    ),
    "Bathroom Fitting": _s(
        ["I will fit a {a} {b}", "I will install your new {a} {b}"],
        ["new", "modern", "walk-in", "accessible"],
        ["shower", "bathroom suite", "vanity unit", "toilet"],
        ["bathroom fitter", "shower install", "plumbing", "renovation", "tiling"],
        ["Old fittings removed", "Connections and sealing", "Pressure test", "Waste taken away"],
        (250, 600),
        (2, 7),
        ["From a single shower to a full suite.", "Clean, careful work in a lived-in home."],
        ("Do you supply the suite?", "You choose it, I can order it at trade price."),
    ),
    "Electrical Repairs": _s(
        ["I will fix your {a} {b}", "I will find and repair the {a} {b}"],
        ["tripping", "faulty", "dead", "flickering"],
        ["circuit", "socket", "light switch", "fuse box"],
        ["electrician", "fault finding", "electrical repair", "fuse box", "rewiring"],
        [*_VISIT, "Fault finding", "Safety test certificate"],
        (60, 100),
        (1, 2),
        ["Safe, certified work with a test certificate.", "I find the fault before I fix it."],
        ("Are you certified?", "Yes: NICEIC approved, Part P registered and insured."),
    ),
    "Lighting & Sockets": _s(
        ["I will install {a} {b}", "I will add {a} {b} to your home"],
        ["new", "extra", "outdoor", "USB", "smart"],
        ["sockets", "downlights", "pendant lights", "garden lights"],
        ["lighting", "sockets", "electrician", "downlights", "smart home"],
        [*_VISIT, "Fitting and wiring", "Test certificate"],
        (70, 150),
        (1, 3),
        ["More light, fewer extension leads.", "Neat chasing and filling, ready to paint."],
        ("Can you add a socket anywhere?", "Almost: I'll check the circuit first."),
    ),
    "EV Charger Installation": _s(
        ["I will install your {a} {b}", "I will fit a {a} {b} at your home"],
        ["7kW", "smart", "tethered", "untethered"],
        ["EV charger", "home charger", "car charger"],
        ["ev charger", "electric car", "electrician", "home charging", "ozev"],
        ["Site survey", "Charger fitted", "Dedicated circuit", "App set-up", "DNO notification"],
        (450, 900),
        (3, 10),
        ["Charge at home overnight at the cheapest rate.", "Approved installer for most brands."],
        ("Which chargers do you fit?", "Ohme, Zappi, Pod Point, Easee and others."),
    ),
    "Lawn & Garden Care": _s(
        ["I will {a} your {b}", "I will {a} your {b} every fortnight"],
        ["mow and edge", "tidy", "weed and feed", "look after"],
        ["lawn", "garden", "borders", "front garden"],
        ["gardener", "lawn mowing", "garden tidy", "weeding", "garden care"],
        ["Mowing and edging", "Weeding borders", "Green waste removed", "Seasonal pruning"],
        (30, 60),
        (1, 4),
        ["A tidy garden without the weekends.", "I take the green waste away."],
        ("Do you bring a mower?", "Yes, and every other tool."),
    ),
    "Hedge & Tree Trimming": _s(
        ["I will trim your {a} {b}", "I will cut back your {a} {b}"],
        ["overgrown", "tall", "conifer", "beech", "fruit"],
        ["hedge", "hedges", "trees", "shrubs"],
        ["hedge trimming", "tree surgeon", "garden", "pruning", "gardener"],
        ["Trimming and shaping", "Waste removed", "Ladders and safety kit", "Insured work"],
        (60, 150),
        (1, 5),
        ["Neat lines, no mess left behind.", "Fully insured for work at height."],
        ("Do you remove the cuttings?", "Yes, they're taken away and composted."),
    ),
    "Maths Tutoring": _s(
        ["I will tutor {a} maths for {b}", "I will help your child with {a} maths ({b})"],
        ["GCSE", "A-level", "primary", "KS3", "11+"],
        ["exam success", "confidence", "top grades", "catch-up"],
        ["maths tutor", "gcse maths", "tutoring", "a level maths", "homework help"],
        ["Lesson plan", "Practice papers", "Progress notes", "Homework set", "Exam technique"],
        (30, 50),
        (1, 3),
        ["Patient lessons that build confidence.", "I use past papers from your exam board."],
        ("Online or at home?", "Both: choose the gig that suits you."),
    ),
    "Language Lessons": _s(
        ["I will teach you {a} {b}", "I will give {a} {b} lessons"],
        ["conversational", "beginner", "business", "exam"],
        ["Spanish", "French", "German", "Italian", "English"],
        ["language lessons", "spanish tutor", "french tutor", "tutoring", "conversation"],
        ["Speaking practice", "Grammar notes", "Vocabulary lists", "Homework", "Exam preparation"],
        (25, 45),
        (1, 3),
        ["Speak from the first lesson.", "Native speaker with teaching qualifications."],
        ("What level do I need?", "Any: we start wherever you are."),
    ),
    "Music Lessons": _s(
        ["I will teach {a} {b} lessons", "I will give {a} {b} lessons at your home"],
        ["beginner", "grade", "adult", "children's"],
        ["piano", "guitar", "violin", "singing", "drums"],
        ["music lessons", "piano teacher", "guitar lessons", "tutoring", "music tutor"],
        ["Lesson plan", "Sheet music", "Practice schedule", "Exam preparation"],
        (30, 55),
        (1, 3),
        ["Learn the songs you love.", "ABRSM and Trinity exam experience."],
        ("Do I need my own instrument?", "For piano lessons at home, yes; I bring guitars."),
    ),
    "Furniture Assembly": _s(
        ["I will assemble your {a} {b}", "I will put together your {a} {b}"],
        ["flat-pack", "IKEA", "new", "office"],
        ["wardrobe", "bed", "desk", "kitchen units", "furniture"],
        ["furniture assembly", "flat pack", "ikea assembly", "handyman", "wardrobe"],
        ["Assembly", "Wall fixing", "Packaging taken away", "Level and square"],
        (35, 80),
        (1, 3),
        ["Flat-pack built properly, the first time.", "Wall-fixed for safety where needed."],
        ("How long does a wardrobe take?", "Usually two to three hours."),
    ),
    "Odd Jobs & Repairs": _s(
        ["I will {a} around your {b}", "I will {a} in your {b}"],
        ["fix odd jobs", "hang pictures and shelves", "fix doors", "do small repairs"],
        ["home", "flat", "office", "rental"],
        ["handyman", "odd jobs", "repairs", "shelves", "home repairs"],
        ["Up to two hours of work", "Fixings included", "Tidy-up afterwards"],
        (40, 70),
        (1, 3),
        ["The list of small jobs, done in one visit.", "Fully insured, DBS checked."],
        ("What can you do in two hours?", "Usually five to eight small jobs."),
    ),
}
PROCESS = [
    "Tell me what needs doing, where, and when suits you.",
    "I confirm the visit and the price before I come.",
    "I do the work carefully and tidy up afterwards.",
    "You check everything before I leave.",
]
for _spec in SUBCATEGORIES.values():
    _spec["process"] = PROCESS


def place(rng: random.Random, city_index: int) -> tuple[str, float, float, int]:
    """(city name, latitude, longitude, radius km) of a seller: a base up to ~4 km from the
    city's centre (gazetteer coordinates), and one of ``RADII``."""
    from app.core.geo import KM_PER_DEGREE, find_city

    name = CITIES[city_index % len(CITIES)]
    city = find_city(name, prefer_country=COUNTRY)
    bearing, km = rng.uniform(0, 2 * math.pi), rng.uniform(0, 4)
    lat = city.lat + km * math.cos(bearing) / KM_PER_DEGREE
    lng = city.lng + km * math.sin(bearing) / (KM_PER_DEGREE * math.cos(math.radians(city.lat)))
    return city.name, round(lat, 6), round(lng, 6), rng.choice(RADII)
