"""People's dashboards: a buyer's and a seller's overview, the landing page after login.

It only reads, through the public service functions of orders, messaging, notifications and
payments, so it sits in the top layer with the console and the home page.
"""
