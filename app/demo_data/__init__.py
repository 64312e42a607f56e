"""Content of the demo marketplaces: people, gig templates per subcategory, generated pictures.

Plain data and pure functions, which ``app/demo.py`` feeds through the services; and
``orders.seed_orders``, which plays a few months of orders through the order and payment
services and dates them (the one step that is more than content).
"""
