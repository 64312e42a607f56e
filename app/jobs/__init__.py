"""Jobs: clients' job posts and their templates, freelancers' proposals, invites, and matching."""
