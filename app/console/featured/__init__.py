"""The console's "Featured gigs" page and API (the home page's first row): list, add by id or
by searching titles, reorder, remove. ``actions.py`` calls app/discovery/featured.py and audits."""
