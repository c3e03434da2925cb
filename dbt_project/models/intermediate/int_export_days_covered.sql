-- The export days ingested so far and the clock of the marts: as_of is the end of the
-- latest export day (that day + 1, 00:00 UTC).
select
    min(export_date) as first_export_date,
    max(export_date) as last_export_date,
    {{ days_after(day_start('max(export_date)'), 1) }} as as_of
from {{ ref('stg_lake__ingestion_log') }}
