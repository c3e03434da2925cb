{{ config(alias='quarantine') }}

select
    table_name,
    export_date,
    file_name,
    record_number,
    raw_record,
    reason
from {{ ref('stg_lake__quarantine') }}
