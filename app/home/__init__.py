"""The home page "/": the marketplace's storefront (branding and the category tree) on a
tenant host, the platform's landing page on the platform host.

A page of its own package because it composes several domains; ``app.core`` knows none.
"""
