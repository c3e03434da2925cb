{{ config(materialized='ephemeral') }}
-- The days of the daily marts this build (re)writes: the covered export days from the
-- horizon on (int_build_horizon).
select cast({{ dbt.dateadd('day', 'day_numbers.day_number', day_start('horizon.first_mart_day')) }} as date) as date
from {{ ref('int_build_horizon') }} as horizon
cross join ({{ day_numbers() }}) as day_numbers
where day_numbers.day_number <= {{ dbt.datediff('horizon.first_mart_day', 'horizon.last_mart_day', 'day') }}
