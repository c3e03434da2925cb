{{ config(alias='ingestion_log') }}

select
    table_name,
    export_date,
    files_read,
    records_read,
    records_loaded,
    records_quarantined,
    records_duplicate,
    ingested_at
from {{ ref('stg_lake__ingestion_log') }}
