"""Reading the app's metrics in tests: the text ``/metrics`` serves, parsed."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from app.core import metrics


def scrape() -> dict[tuple[str, tuple], float]:
    """Every sample of the deployment's metrics: ``{(name, sorted labels): value}``."""
    body, _ = metrics.render()
    samples = {}
    for family in text_string_to_metric_families(body.decode()):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples: dict, name: str, **labels) -> float:
    """The sample ``name{labels}`` (0 when absent)."""
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def total(samples: dict, name: str, **labels) -> float:
    """The sum of every sample ``name`` whose labels include ``labels``."""
    wanted = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and wanted <= set(ls))


def series(samples: dict, prefix: str = "gigforge_") -> int:
    """How many series the metrics whose names start with ``prefix`` have."""
    return sum(1 for (name, _labels) in samples if name.startswith(prefix))
