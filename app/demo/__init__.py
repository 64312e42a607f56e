"""Demo marketplaces for `make run`: people, gig templates, generated pictures and backdated orders,
all fed through the domains' public services (``seed.seed_demo``); ``devserver`` is `make run`
itself and ``cli`` is ``flask demo seed``."""
