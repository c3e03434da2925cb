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
        cast(event_type as {{ dbt.type_string() }}) as event_type,
        cast(occurred_at as {{ dbt.type_timestamp() }}) as occurred_at,
        cast(source as {{ dbt.type_string() }}) as source,
        cast(detected_via as {{ dbt.type_string() }}) as detected_via,
        cast(campaign_id as {{ dbt.type_string() }}) as campaign_id,
        cast(export_date as date) as export_date,
        cast(source_file as {{ dbt.type_string() }}) as source_file,
        cast(record_number as {{ dbt.type_bigint() }}) as record_number
    from {{ source('lake', 'subscriptions') }}
    where export_date >= cast('{{ reload_from }}' as date)
)

{{ first_delivery('typed', ['event_id', 'user_id', 'event_type', 'occurred_at', 'source', 'detected_via', 'campaign_id', 'export_date', 'source_file', 'record_number'], this if is_incremental() else none) }}
