-- Typed; each event id once (macros/versions.sql: first_delivery).
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
)

{{ first_delivery('typed', ['event_id', 'user_id', 'event_type', 'occurred_at', 'source', 'detected_via', 'campaign_id', 'export_date', 'source_file', 'record_number']) }}
