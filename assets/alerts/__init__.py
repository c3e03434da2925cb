"""Early warnings: read the alert marts for a run's days, write them to a file, send new ones to a webhook."""
