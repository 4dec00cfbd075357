"""The engine's Prometheus metrics, on a registry of their own (``/metrics`` serves it).

Counters move in the process that does the work (a scheduler replica, or one CLI
command); the state collector adds what any process can read from the state database,
so a read-only ``engine serve`` still exposes the last successful run per audience and
automation, which is what a "no successful run in 26 h" alert needs.
"""

from __future__ import annotations

from typing import Callable, Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

REGISTRY = CollectorRegistry(auto_describe=True)

RUNS = Counter(
    "engine_runs",
    "Audience runs finished, by audience, automation and status",
    ["audience", "automation", "status"],
    registry=REGISTRY,
)
PHASE_SECONDS = Histogram(
    "engine_phase_duration_seconds",
    "Duration of run steps and automation phases",
    ["phase"],
    registry=REGISTRY,
    buckets=(0.01, 0.05, 0.1, 0.5, 1, 2, 5, 10, 30, 60, 300, 900, 3600),
)
AUDIENCE_SIZE = Gauge(
    "engine_audience_size",
    "Rows of the last run's production file, per output",
    ["audience", "output"],
    registry=REGISTRY,
)
PUSHES_SENT = Counter("engine_pushes_sent", "Pushes FCM accepted", ["mode"], registry=REGISTRY)
PUSHES_FAILED = Counter("engine_pushes_failed", "Pushes FCM refused, by error code", ["code"], registry=REGISTRY)
PUSHES_IN_DOUBT = Gauge(
    "engine_pushes_in_doubt",
    "Pushes of the last send whose FCM answer was never recorded",
    ["audience"],
    registry=REGISTRY,
)
AUTOMATION_OUTCOMES = Counter(
    "engine_automation_outcomes",
    "Users of finished automation runs by outcome (sent, failed, in_doubt, skipped_by_cadence, held_out, cancelled)",
    ["automation", "outcome"],
    registry=REGISTRY,
)
RETRIES = Counter("engine_push_retries", "Push retries after a transient FCM failure", registry=REGISTRY)
CADENCE_EXCLUDED = Counter(
    "engine_cadence_excluded", "Users a send left out by a cadence rule", ["rule"], registry=REGISTRY
)
STALLED_RECOVERED = Counter(
    "engine_stalled_jobs_recovered", "Scheduler jobs of a dead worker taken over", registry=REGISTRY
)
LAST_SUCCESS = Gauge(
    "engine_last_successful_run_timestamp_seconds",
    "Unix time of the last succeeded (or empty) run, per automation and audience",
    ["automation", "audience"],
    registry=REGISTRY,
)
CONFIG_ERROR = Gauge(
    "engine_config_error",
    "1 while this replica's schedules.yaml does not load (it runs the last good definition), else 0",
    registry=REGISTRY,
)
ALERTS = Counter(
    "engine_alerts", "Alerts posted to the webhook, by event and outcome", ["event", "outcome"], registry=REGISTRY
)


# engine.impact's totals (engine.state.impact.totals): automation, conversion, treated users, treated converted,
# held-out users, held-out converted
ConversionTotals = tuple[str, str, int, int, int, int]
TREATED, HELD_OUT = "treated", "held_out"  # the ``arm`` label


class StateCollector(Collector):
    """Last successful run per audience and per automation, the jobs of dead workers any replica handed
    back, and each automation's measured conversions per arm, read from the state database at scrape time."""

    def __init__(
        self,
        query: Callable[[], Iterable[tuple[str, str, float]]],
        handed_back: Callable[[], int | None] = lambda: None,
        conversions: Callable[[], Iterable[ConversionTotals]] = lambda: (),
    ) -> None:
        self._query = query  # rows of (kind: "audience" | "automation", name, unix time)
        self._handed_back = handed_back  # None: the state database did not answer
        self._conversions = conversions  # nothing when the state database did not answer

    def collect(self) -> Iterable[GaugeMetricFamily | CounterMetricFamily]:
        audiences = GaugeMetricFamily(
            "engine_state_last_success_timestamp_seconds",
            "Unix time of the last succeeded (or empty) recorded run, per audience",
            labels=["audience"],
        )
        automations = GaugeMetricFamily(
            "engine_state_automation_last_success_timestamp_seconds",
            "Unix time of the last automation run that sent (or sent nothing to an empty audience), per automation",
            labels=["automation"],
        )
        for kind, name, stamp in self._query():
            (audiences if kind == "audience" else automations).add_metric([name], stamp)
        yield audiences
        yield automations
        handed_back = self._handed_back()
        if handed_back is not None:
            yield CounterMetricFamily(
                "engine_state_stalled_jobs_recovered",
                "Scheduler jobs of dead workers handed back by any replica (recorded in the state database)",
                value=handed_back,
            )
        yield from self._conversion_families()

    def _conversion_families(self) -> Iterable[GaugeMetricFamily]:
        converted = GaugeMetricFamily(
            "engine_automation_conversions",
            "Users who converted within the window after a push, summed over an automation's runs measured with "
            "their window closed, per conversion and arm (treated: sent; held_out: the control group)",
            labels=["automation", "conversion", "arm"],
        )
        users = GaugeMetricFamily(
            "engine_automation_conversion_users",
            "Users of each arm those conversions are counted among (the denominator of the conversion rate)",
            labels=["automation", "conversion", "arm"],
        )
        for automation, conversion, treated, treated_converted, held_out, held_out_converted in self._conversions():
            for arm, n, k in ((TREATED, treated, treated_converted), (HELD_OUT, held_out, held_out_converted)):
                converted.add_metric([automation, conversion, arm], k)
                users.add_metric([automation, conversion, arm], n)
        yield converted
        yield users

    def describe(self) -> Iterable[GaugeMetricFamily]:
        return []


def exposition() -> bytes:
    """The registry in Prometheus text format."""
    return generate_latest(REGISTRY)
