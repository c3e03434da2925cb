-- The lake's quarantined records, typed as the yml declares (macros/staging.sql).
select
    {{- staged_columns() }}
from {{ source('lake', 'quarantine') }}
