"""Metric onsets and shapes; guardrail verdicts."""
from __future__ import annotations

from datetime import datetime, time, timedelta, timezone

from watchkeeper.domain.guardrails import FreezeWindow, GuardrailContext, GuardrailPolicy, check
from watchkeeper.domain.metrics import summarize
from watchkeeper.models import Action
from watchkeeper.ports import MetricSeries

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


def series(values):
    return MetricSeries("svc", "NS", "m", None, [(T0 + timedelta(minutes=i), v) for i, v in enumerate(values)])


def test_flat_series_has_no_onset():
    assert summarize(series([50 + (i % 3) for i in range(120)])).onset is None


def test_step_is_found_at_its_start():
    s = summarize(series([10.0 + (i % 2) * 0.5 for i in range(100)] + [40.0] * 20))
    assert s.shape == "step" and s.onset == T0 + timedelta(minutes=100)


def test_ramp_is_recognized():
    s = summarize(series([40.0 + (i % 2) * 0.3 for i in range(90)] + [40.0 + 1.5 * k for k in range(30)]))
    assert s.shape == "ramp" and s.change_ratio > 1.5
    assert T0 + timedelta(minutes=88) <= s.onset <= T0 + timedelta(minutes=100)


def test_a_fall_over_the_whole_window_is_a_drop_from_its_start():
    """Free space falling for hours has no flat baseline to deviate from: the fit's start is the baseline."""
    s = summarize(series([4.2e10 - 2.3e8 * i + (i % 3) * 1e7 for i in range(180)]))
    assert s.shape == "drop" and s.onset == T0 and s.change_ratio < 0.05


def test_noise_around_a_level_is_no_fall():
    assert summarize(series([50 - (i % 7) for i in range(180)])).onset is None


def write(kind="rollback_deployment", **params):
    return Action(id="a1", type=kind, target="eks/c/ns/app", params=params)


def test_kill_switch_blocks_every_write_but_not_a_page():
    ctx = GuardrailContext(now=T0, kill_switch=True)
    assert check(write(), GuardrailPolicy(), ctx).guardrail == "kill_switch"
    assert check(write("page_human"), GuardrailPolicy(), ctx).allowed


def test_scale_is_limited_to_twice_the_current_replicas():
    ctx = GuardrailContext(now=T0, current_replicas=4)
    assert check(write("scale_service", replicas=8), GuardrailPolicy(), ctx).allowed
    assert check(write("scale_service", replicas=9), GuardrailPolicy(), ctx).guardrail == "max_scale_factor"


def test_restart_rate_limit_and_freeze_window_with_time_zone():
    assert check(write("restart_pods"), GuardrailPolicy(), GuardrailContext(now=T0, restarts_last_hour=5)).guardrail \
        == "restart_rate_limit"
    policy = GuardrailPolicy(freeze_windows=[FreezeWindow(start=time(18), end=time(23), timezone="America/New_York")])
    evening_ny = datetime(2026, 1, 1, 23, 30, tzinfo=timezone.utc)  # 18:30 in New York
    assert check(write(), policy, GuardrailContext(now=evening_ny)).guardrail == "change_freeze"
    assert check(write(), policy, GuardrailContext(now=datetime(2026, 1, 1, 15, tzinfo=timezone.utc))).allowed
