select
    cast(table_name as {{ dbt.type_string() }}) as table_name,
    cast(export_date as date) as export_date,
    cast(file_name as {{ dbt.type_string() }}) as file_name,
    cast(record_number as {{ dbt.type_bigint() }}) as record_number,
    cast(raw_record as {{ dbt.type_string() }}) as raw_record,
    cast(reason as {{ dbt.type_string() }}) as reason
from {{ source('lake', 'quarantine') }}
