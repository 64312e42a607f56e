"""Gigs: categories, gigs with packages, extras, images and FAQ, and their publishing lifecycle."""
