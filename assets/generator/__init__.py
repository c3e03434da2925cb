"""`optout generate`: a push platform simulator that writes raw exports to the contract.

`simulate` produces clean, typed records day by day; `noise` makes them look like real
exports (late arrivals, duplicates, bad records, mixed forms); `writers` puts them on disk.
"""
