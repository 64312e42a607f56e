"""The console's disputes area: the mediation queue, a dispute's case view and the operator's
steps on it (assign, write to both parties, propose, ask an expert, hand over, decide,
dismiss), the ladder's settings and the appointed experts."""
