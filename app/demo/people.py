"""Demo people: sellers (by speciality) and buyers. Names are invented."""

from __future__ import annotations

# (display name, country, languages)
SELLER_NAMES = [
    ("Maya Chen", "CA", ["en", "zh"]),
    ("Daniel Okafor", "NG", ["en"]),
    ("Sofia Marquez", "MX", ["es", "en"]),
    ("Liam O'Brien", "IE", ["en"]),
    ("Priya Raman", "IN", ["en", "ta", "hi"]),
    ("Jonas Weber", "DE", ["de", "en"]),
    ("Amara Diallo", "SN", ["fr", "en"]),
    ("Lucas Ferreira", "BR", ["pt", "en"]),
    ("Hannah Kowalski", "PL", ["pl", "en"]),
    ("Kenji Watanabe", "JP", ["ja", "en"]),
    ("Elena Rossi", "IT", ["it", "en"]),
    ("Omar Haddad", "JO", ["ar", "en"]),
    ("Grace Mwangi", "KE", ["en", "sw"]),
    ("Noah Lindqvist", "SE", ["sv", "en"]),
    ("Isabel Santos", "PT", ["pt", "es", "en"]),
    ("Ethan Brooks", "US", ["en"]),
    ("Chloe Martin", "FR", ["fr", "en"]),
    ("Ravi Patel", "GB", ["en", "gu"]),
    ("Ana Petrovic", "RS", ["sr", "en"]),
    ("Tomas Novak", "CZ", ["cs", "en"]),
    ("Zara Ahmed", "PK", ["ur", "en"]),
    ("Mateo Alvarez", "AR", ["es", "en"]),
    ("Freya Nielsen", "DK", ["da", "en"]),
    ("Kwame Mensah", "GH", ["en"]),
    ("Julia Becker", "AT", ["de", "en"]),
    ("Arjun Mehta", "IN", ["en", "hi"]),
    ("Lea Dubois", "BE", ["fr", "nl", "en"]),
    ("Samuel Cohen", "IL", ["he", "en"]),
    ("Mei Lin Tan", "SG", ["en", "zh", "ms"]),
    ("Oliver Hughes", "AU", ["en"]),
    ("Nadia Popescu", "RO", ["ro", "en"]),
    ("Diego Romero", "ES", ["es", "ca", "en"]),
    ("Aisha Bello", "NG", ["en", "ha"]),
    ("Henrik Larsen", "NO", ["no", "en"]),
    ("Camila Rocha", "CO", ["es", "en"]),
    ("Yusuf Demir", "TR", ["tr", "en"]),
    ("Emma Visser", "NL", ["nl", "en"]),
    ("Tariq Aziz", "EG", ["ar", "en"]),
    ("Ingrid Berg", "FI", ["fi", "sv", "en"]),
    ("Marcus Reid", "US", ["en", "es"]),
]

# (display name, email handle). The first is the buyer `make run` prints; all of them place
# the demo orders (app/demo/orders.py) and signed up over the demo's history.
BUYERS = [
    ("Alex Morgan", "alex"),
    ("Sam Rivera", "sam"),
    ("Jordan Blake", "jordan"),
    ("Taylor Nguyen", "taylor"),
    ("Morgan Ellis", "morgan"),
    ("Riley Carter", "riley"),
    ("Casey Brennan", "casey"),
    ("Jamie Fischer", "jamie"),
    ("Avery Johnson", "avery"),
    ("Quinn Sullivan", "quinn"),
    ("Harper Kim", "harper"),
    ("Rowan Castillo", "rowan"),
    ("Skyler Adams", "skyler"),
    ("Dana Whitfield", "dana"),
    ("Robin Hartmann", "robin"),
    ("Kai Nakamura", "kai"),
    ("Noor Rahman", "noor"),
    ("Leila Farah", "leila"),
    ("Elliot Moreau", "elliot"),
    ("Frankie Russo", "frankie"),
]

# Per top category: headline templates ({years} filled in) and a bio sentence.
HEADLINES = {
    "Graphics & Design": [
        "Brand and visual designer with {years} years of agency experience",
        "Illustrator and logo designer, {years} years, 300+ happy clients",
        "UI and brand designer who turns fuzzy ideas into clear visuals",
    ],
    "Programming & Tech": [
        "Full-stack developer ({years} years): Python, JavaScript, cloud",
        "Senior engineer shipping web and mobile apps for {years} years",
        "Pragmatic developer: clean code, tests, and deadlines kept",
    ],
    "Digital Marketing": [
        "Growth marketer with {years} years in SEO, ads and email",
        "Performance marketer: measurable campaigns, honest reporting",
        "Certified Google Ads and Meta specialist, {years} years",
    ],
    "Writing & Translation": [
        "Copywriter and editor, {years} years writing for SaaS and retail",
        "Native-speaker translator and proofreader with {years} years",
        "Content writer who researches first and writes clearly",
    ],
    "Video & Animation": [
        "Video editor and motion designer, {years} years on YouTube and ads",
        "Animator for explainers and logo reveals, {years} years",
        "Editor who makes your footage tell a story",
    ],
    "Music & Audio": [
        "Audio engineer, {years} years mixing, mastering and podcasts",
        "Warm, versatile voice actor with a home studio",
        "Composer and producer of jingles and brand music",
    ],
    "Business": [
        "Business consultant, {years} years with startups and SMEs",
        "Organised virtual assistant who frees up your week",
        "Former analyst writing plans investors actually read",
    ],
    "Data": [
        "Data analyst, {years} years in SQL, Python and dashboards",
        "Meticulous data specialist: clean, structured, on time",
        "Data engineer and visualisation designer, {years} years",
    ],
}

BIOS = [
    "I work with small businesses and startups around the world and answer messages within a few hours.",
    "Before going freelance I spent years in agencies; now I work directly with clients who value clarity.",
    "I keep you in the loop at every step and deliver what we agreed, on the day we agreed.",
    "Quality over quantity: I take a limited number of orders each week so each gets my full attention.",
]

HOURLY_RATES = {  # major units: (low, high)
    "Graphics & Design": (25, 70),
    "Programming & Tech": (35, 110),
    "Digital Marketing": (30, 90),
    "Writing & Translation": (20, 60),
    "Video & Animation": (30, 85),
    "Music & Audio": (30, 90),
    "Business": (25, 100),
    "Data": (25, 80),
}

# How each demo marketplace leans: relative weight of each top category.
TENANT_MIX = {
    "acme": {
        "Graphics & Design": 2,
        "Programming & Tech": 4,
        "Digital Marketing": 3,
        "Writing & Translation": 3,
        "Video & Animation": 1,
        "Music & Audio": 0.5,
        "Business": 2.5,
        "Data": 2.5,
    },
    "globex": {
        "Graphics & Design": 5,
        "Programming & Tech": 1,
        "Digital Marketing": 1,
        "Writing & Translation": 1,
        "Video & Animation": 4,
        "Music & Audio": 4,
        "Business": 0.5,
        "Data": 0.5,
    },
}
