"""Demo marketplaces for `make run`: people, gig templates, generated pictures and backdated orders,
all fed through the domains' public services (``seed.seed_demo``)."""
