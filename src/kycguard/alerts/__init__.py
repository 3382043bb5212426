"""Fraud and system-health alerts: rules, de-duplication, severities, channels and routing."""
