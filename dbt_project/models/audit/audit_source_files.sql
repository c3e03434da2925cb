{{ config(alias='source_files', materialized='table') }}

-- One row per vendor file read (OPTOUT_SOURCE other than optout): where each of its records
-- went. Ingestion counted the records, the ignored ones, the quarantined ones and the
-- repeats within the export day; a record whose event id an earlier export day delivered is
-- told apart here, from what staging kept (first_delivery). A record counts once however
-- many rows it maps to: by its file and record number, in the table that owns the file; one
-- that maps to another table only (an Airship file mixes sends, consent and activity)
-- counts as mapped, its quarantine or repeat showing in that table's audit.
with files as (
    select * from {{ ref('stg_lake__source_files') }}
),

kept_records as (
    {%- for table in ['users', 'subscriptions', 'messages', 'app_events'] %}
        select
            kept.source_file as path,
            kept.export_date,
            count(distinct kept.record_number) as records_kept
        from {{ ref('stg_lake__' ~ table) }} as kept
        inner join files
            on
                kept.source_file = files.path
                and kept.export_date = files.export_date
                and files.table_name = '{{ table }}'
        group by kept.source_file, kept.export_date
        {%- if not loop.last %}
            union all
        {%- endif %}
    {%- endfor %}
)

select
    files.path,
    files.event_type,
    files.export_date,
    files.table_name,
    files.records,
    coalesce(kept_records.records_kept, 0) + files.mapped_elsewhere as mapped,
    files.ignored,
    files.quarantined,
    files.duplicate_in_day + files.loaded - coalesce(kept_records.records_kept, 0) as duplicate
from files
left join kept_records
    on
        files.path = kept_records.path
        and files.export_date = kept_records.export_date
