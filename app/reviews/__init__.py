"""Reviews and reputation: two-way double-blind reviews of completed orders, replies, reports and
moderation, the delivery score, seller levels and the daily reputation snapshots.

Sits above messaging (it reads response times of conversations) and below notifications (which
tells people about reviews). Design: docs/design/reviews-and-reputation.md.
"""
