-- The lake's per-file counts of vendor sources, typed as the yml declares (macros/staging.sql).
select
    {{- staged_columns() }}
from {{ source('lake', 'source_files') }}
