{{ config(materialized='ephemeral') }}
-- The range the reporting views cover (macros/metrics.sql, report_range_start) and the
-- period of the same length just before it.
with bounds as (
    select
        {{ report_range_start() }} as range_start,
        {{ report_range_end() }} as range_end
)

select
    range_start,
    range_end,
    {{ dbt.datediff('range_start', 'range_end', 'day') }} + 1 as range_days,
    cast({{ dbt.dateadd('day', '-1 - ' ~ dbt.datediff('range_start', 'range_end', 'day'), 'range_start') }} as date)
        as previous_start,
    cast({{ dbt.dateadd('day', -1, 'range_start') }} as date) as previous_end
from bounds
