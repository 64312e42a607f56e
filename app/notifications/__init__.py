"""Notifications: the in-app notification centre, live pushes and batched email.

Other domains tell people things through ``services.notify(user_id, kind, data)``
(usually from their own event handlers); this domain decides where the
notification goes (bell, socket push, email) from the user's preferences and
presence. Kinds are declared in ``kinds.py``.
"""
