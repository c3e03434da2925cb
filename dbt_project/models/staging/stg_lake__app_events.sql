-- The earliest delivery of an event id wins (see stg_lake__subscriptions).
with typed as (
    select
        cast(event_id as {{ dbt.type_string() }}) as event_id,
        cast(user_id as {{ dbt.type_string() }}) as user_id,
        cast(event_name as {{ dbt.type_string() }}) as event_name,
        cast(occurred_at as {{ dbt.type_timestamp() }}) as occurred_at,
        cast(properties as {{ dbt.type_string() }}) as properties,
        cast(export_date as date) as export_date,
        cast(source_file as {{ dbt.type_string() }}) as source_file,
        cast(record_number as {{ dbt.type_bigint() }}) as record_number
    from {{ source('lake', 'app_events') }}
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
    event_name,
    occurred_at,
    properties,
    export_date,
    source_file,
    record_number
from ranked
where delivery_rank = 1
