-- One row per campaign: the latest version (ties: later export day, file, record).
with ranked as (
    select
        *,
        row_number() over (
            partition by campaign_id
            order by updated_at desc, export_date desc, source_file desc, record_number desc
        ) as version_rank
    from {{ ref('stg_lake__campaigns') }}
)

select
    campaign_id,
    campaign_name,
    channel,
    campaign_type,
    sent_at,
    updated_at
from ranked
where version_rank = 1
