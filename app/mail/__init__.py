"""Transactional email: a row per message, sent by an RQ job through a backend.

Public interface: ``app.mail.services.send_email``.
"""
