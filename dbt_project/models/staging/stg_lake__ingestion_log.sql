select
    cast(table_name as {{ dbt.type_string() }}) as table_name,
    cast(export_date as date) as export_date,
    cast(files_read as {{ dbt.type_bigint() }}) as files_read,
    cast(records_read as {{ dbt.type_bigint() }}) as records_read,
    cast(records_loaded as {{ dbt.type_bigint() }}) as records_loaded,
    cast(records_quarantined as {{ dbt.type_bigint() }}) as records_quarantined,
    cast(records_duplicate as {{ dbt.type_bigint() }}) as records_duplicate,
    cast(ingested_at as {{ dbt.type_timestamp() }}) as ingested_at
from {{ source('lake', 'ingestion_log') }}
