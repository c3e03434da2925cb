{{ config(alias='ingestion_log') }}

-- The lake log counts repeats of an event id within its day. An event an earlier export day
-- already delivered is told apart here, once, from what staging kept (first_delivery):
-- such a record counts as a duplicate of its day, not as loaded.
with kept_events as (
    {%- for table in ['subscriptions', 'messages', 'app_events'] %}
        select
            '{{ table }}' as table_name,
            export_date,
            count(*) as records_kept
        from {{ ref('stg_lake__' ~ table) }}
        group by export_date
        {%- if not loop.last %}
            union all
        {%- endif %}
    {%- endfor %}
),

counted as (
    select
        log.table_name,
        log.export_date,
        log.files_read,
        log.records_read,
        case
            when log.table_name in ('subscriptions', 'messages', 'app_events')
                then coalesce(kept_events.records_kept, 0)
            else log.records_loaded
        end as records_loaded,
        log.records_quarantined,
        log.ingested_at
    from {{ ref('stg_lake__ingestion_log') }} as log
    left join kept_events
        on
            log.table_name = kept_events.table_name
            and log.export_date = kept_events.export_date
)

select
    table_name,
    export_date,
    files_read,
    records_read,
    records_loaded,
    records_quarantined,
    records_read - records_loaded - records_quarantined as records_duplicate,
    ingested_at
from counted
