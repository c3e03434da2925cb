-- The lake's campaign versions, typed as the yml declares (macros/staging.sql); `name` is
-- staged as campaign_name.
select
    {{- staged_columns(renamed={'name': 'campaign_name'}) }}
from {{ source('lake', 'campaigns') }}
