-- Ingestion keeps an event id once per export day and against earlier days; a day
-- re-ingested after a later one can still repeat an id, so the earliest delivery wins here.
with typed as (
    select
        cast(event_id as {{ dbt.type_string() }}) as event_id,
        cast(user_id as {{ dbt.type_string() }}) as user_id,
        cast(event_type as {{ dbt.type_string() }}) as event_type,
        cast(occurred_at as {{ dbt.type_timestamp() }}) as occurred_at,
        cast(source as {{ dbt.type_string() }}) as source,
        cast(detected_via as {{ dbt.type_string() }}) as detected_via,
        cast(campaign_id as {{ dbt.type_string() }}) as campaign_id,
        cast(export_date as date) as export_date,
        cast(source_file as {{ dbt.type_string() }}) as source_file,
        cast(record_number as {{ dbt.type_bigint() }}) as record_number
    from {{ source('lake', 'subscriptions') }}
),

ranked as (
    select
        *,
        row_number() over (
            partition by event_id order by export_date, source_file, record_number
        ) as delivery_rank
    from typed
)

select
    event_id,
    user_id,
    event_type,
    occurred_at,
    source,
    detected_via,
    campaign_id,
    export_date,
    source_file,
    record_number
from ranked
where delivery_rank = 1
