"""Code and CI links of a contract: repositories, the inbound GitHub/GitLab webhook, pull
requests and CI runs (issue #17). See docs/design/hourly-and-workroom.md.
"""
