"""Infrastructure every domain uses: errors, unit of work, money, idempotency, jobs,
after-commit hooks, logging, embedded servers, health checks. It knows no business domain."""
