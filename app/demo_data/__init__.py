"""Content of the demo marketplaces: people, gig templates per subcategory, generated pictures.

Plain data and pure functions only; ``app/demo.py`` feeds them through the services.
"""
