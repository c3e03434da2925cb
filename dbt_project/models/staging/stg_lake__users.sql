select
    cast(user_id as {{ dbt.type_string() }}) as user_id,
    cast(external_id as {{ dbt.type_string() }}) as external_id,
    cast(platform as {{ dbt.type_string() }}) as platform,
    cast(browser as {{ dbt.type_string() }}) as browser,
    cast(created_at as {{ dbt.type_timestamp() }}) as created_at,
    cast(updated_at as {{ dbt.type_timestamp() }}) as updated_at,
    cast(export_date as date) as export_date,
    cast(source_file as {{ dbt.type_string() }}) as source_file,
    cast(record_number as {{ dbt.type_bigint() }}) as record_number
from {{ source('lake', 'users') }}
