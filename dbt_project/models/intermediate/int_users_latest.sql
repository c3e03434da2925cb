-- One row per user: the latest profile version (ties: later export day, file, record).
with ranked as (
    select
        *,
        row_number() over (
            partition by user_id
            order by updated_at desc, export_date desc, source_file desc, record_number desc
        ) as version_rank
    from {{ ref('stg_lake__users') }}
)

select
    user_id,
    external_id,
    platform,
    browser,
    created_at,
    updated_at
from ranked
where version_rank = 1
