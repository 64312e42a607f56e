"""Orders: gig orders and custom offers, their lifecycle, deliveries and cancellations."""
