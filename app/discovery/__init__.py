"""Discovery (#18): saved gigs and lists, recently viewed gigs, the operator's featured gigs and
the marketplace home page's sections (cached per tenant). Sits above every domain it shows
(gigs, search, reviews, jobs) and below the pages that show it (home, dashboard, console)."""
