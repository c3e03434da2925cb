"""Where the landing area's files come from (OPTOUT_SOURCE): optout's own contract or a vendor's export.

Each source maps its files to the contract's five tables before validation, so the lake,
the marts and everything after them are the same whatever the source (docs/sources/).
"""
