"""The console's reviews area: the moderation queue (reported and held reviews), every review
with filters, a review's page with hide / restore / approve / dismiss a report, and the
reputation settings (review window, banned words, seller level thresholds).

``reads.py`` reads, ``actions.py`` calls the reviews domain (app/reviews/services.py,
app/reviews/settings.py) and writes the audit entry; ``views.py`` and ``api.py`` call them.
"""
