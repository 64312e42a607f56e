"""Console page "Sign-in methods": the marketplace's GitHub and Google OAuth clients."""
