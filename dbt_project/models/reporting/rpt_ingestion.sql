-- Per raw table over the range's export days: days ingested and the records read, loaded,
-- quarantined and dropped as duplicates (audit.ingestion_log).
select
    ingestion.table_name,
    count(*) as days,
    cast(sum(ingestion.records_read) as {{ dbt.type_bigint() }}) as records_read,
    cast(sum(ingestion.records_loaded) as {{ dbt.type_bigint() }}) as records_loaded,
    cast(sum(ingestion.records_quarantined) as {{ dbt.type_bigint() }}) as records_quarantined,
    cast(sum(ingestion.records_duplicate) as {{ dbt.type_bigint() }}) as records_duplicate
from {{ ref('audit_ingestion_log') }} as ingestion
{{ in_report_range('ingestion.export_date') }}
group by ingestion.table_name
