"""Reading ``/metrics`` in tests: every sample of one scrape, looked up by name and labels.

Counters are shared by every test of the process (one multiprocess directory per xdist worker):
tests compare a scrape before with one after, never absolute values of counters."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families


class Scrape:
    def __init__(self, text: str):
        self.text = text
        self.samples: dict[tuple[str, frozenset], float] = {}
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                self.samples[(sample.name, frozenset(sample.labels.items()))] = sample.value

    def value(self, name: str, default: float = 0.0, **labels) -> float:
        return self.samples.get((name, frozenset(labels.items())), default)

    def has(self, name: str, **labels) -> bool:
        return (name, frozenset(labels.items())) in self.samples

    def delta(self, before: Scrape, name: str, **labels) -> float:
        return self.value(name, **labels) - before.value(name, **labels)

    def total(self, name: str, **labels) -> float:
        """The sum of every sample ``name`` whose labels include ``labels``."""
        wanted = set(labels.items())
        return sum(v for (n, ls), v in self.samples.items() if n == name and wanted <= ls)

    def series(self, prefix: str = "gigforge_") -> int:
        """How many series the metrics whose names start with ``prefix`` have."""
        return sum(1 for (name, _labels) in self.samples if name.startswith(prefix))


def render() -> Scrape:
    """What ``/metrics`` would answer, without a request (app.core.metrics.render)."""
    from app.core import metrics

    return Scrape(metrics.render()[0].decode())


def scrape(platform_client) -> Scrape:
    response = platform_client.get("/metrics")
    assert response.status_code == 200, response.get_data(as_text=True)
    return Scrape(response.get_data(as_text=True))
