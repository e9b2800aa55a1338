"""Terminal rendering of the reports."""
