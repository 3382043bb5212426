"""Turning check results into a graduated, explained decision."""
