-- The lake's ingestion log, typed as the yml declares (macros/staging.sql).
select
    {{- staged_columns() }}
from {{ source('lake', 'ingestion_log') }}
