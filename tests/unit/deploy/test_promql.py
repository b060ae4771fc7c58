from tests.unit.deploy.promql import exported_names, metric_names


def test_metric_names_skip_functions_grouping_matchers_and_ranges() -> None:
    expr = ('histogram_quantile(0.95, sum by (le, instance) '
            '(rate(flare_stream_batch_seconds_bucket{job="stream"}[5m])))')
    assert metric_names(expr) == {"flare_stream_batch_seconds_bucket"}


def test_metric_names_of_a_ratio_with_regex_matchers() -> None:
    expr = ('sum by (feed) (rate(flare_swpc_polls_total{outcome=~"a|b"}[10m]))\n'
            '  / sum by (feed) (rate(flare_swpc_polls_total[10m])) > 0.5')
    assert metric_names(expr) == {"flare_swpc_polls_total"}


def test_metric_names_skip_numbers_durations_and_grafana_variables() -> None:
    expr = ("time() - max by (satellite) (flare_newest_minute_timestamp_seconds) "
            "> 1e-5 and increase(flare_stream_alerts_total[$__range]) offset 5m")
    assert metric_names(expr) == {"flare_newest_minute_timestamp_seconds",
                                  "flare_stream_alerts_total"}


def test_metric_names_keep_bare_selectors() -> None:
    assert metric_names("up == 0") == {"up"}
    assert metric_names("flare_stream_model_info == 1") == {"flare_stream_model_info"}


def test_exported_names_derive_series_of_metrics_without_samples() -> None:
    text = (
        "# HELP a_total things\n# TYPE a_total counter\n"
        "# HELP b seconds\n# TYPE b histogram\n"
        "# HELP c level\n# TYPE c gauge\nc{x=\"1\"} 2.0\n"
    )
    names = exported_names(text)
    assert {"a_total", "b_bucket", "b_sum", "b_count", "c"} <= names
    assert "a_total_total" not in names
