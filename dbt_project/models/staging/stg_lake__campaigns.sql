select
    cast(campaign_id as {{ dbt.type_string() }}) as campaign_id,
    cast(name as {{ dbt.type_string() }}) as campaign_name,
    cast(channel as {{ dbt.type_string() }}) as channel,
    cast(campaign_type as {{ dbt.type_string() }}) as campaign_type,
    cast(sent_at as {{ dbt.type_timestamp() }}) as sent_at,
    cast(updated_at as {{ dbt.type_timestamp() }}) as updated_at,
    cast(export_date as date) as export_date,
    cast(source_file as {{ dbt.type_string() }}) as source_file,
    cast(record_number as {{ dbt.type_bigint() }}) as record_number
from {{ source('lake', 'campaigns') }}
