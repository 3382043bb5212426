"""Metrics: the KPI summary and time series over stored decisions and labels (``service``), and the
Prometheus exposition with request logging (``prometheus``, ``logging``)."""
