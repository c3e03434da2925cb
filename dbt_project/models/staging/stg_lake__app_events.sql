{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        pre_hook="{{ delete_reloaded_days() }}"
    )
}}
-- Typed; each event id once (macros/versions.sql: first_delivery). A table, reloaded from
-- the run's first export day on: downstream models read it many times per run.
{%- set reload_from = reload_from_date() %}

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
    where export_date >= cast('{{ reload_from }}' as date)
)

{{ first_delivery('typed', ['event_id', 'user_id', 'event_name', 'occurred_at', 'properties', 'export_date', 'source_file', 'record_number'], this if is_incremental() else none) }}
