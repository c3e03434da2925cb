-- Typed; each event id once (macros/versions.sql: first_delivery).
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
)

{{ first_delivery('typed', ['event_id', 'user_id', 'event_name', 'occurred_at', 'properties', 'export_date', 'source_file', 'record_number']) }}
