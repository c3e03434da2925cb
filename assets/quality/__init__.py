"""Great Expectations suites over the lake and the marts."""
