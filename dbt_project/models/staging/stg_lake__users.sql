-- The lake's user profile versions, typed as the yml declares (macros/staging.sql).
select
    {{- staged_columns() }}
from {{ source('lake', 'users') }}
