"""A real BI tool (Apache Superset) on the serving copy: its environment, server and dashboards as code."""
