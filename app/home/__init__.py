"""The home page "/": the marketplace's storefront (branding, search, featured and popular gigs,
categories, top sellers, jobs and the visitor's recently viewed: app/discovery/home.py) on a
tenant host, the platform's landing page on the platform host.

A page of its own package because it composes several domains; ``app.core`` knows none.
"""
