{#- Buckets of a push count: '0' .. '9' and '10+' (docs/metrics.md). -#}
{% macro pressure_bucket(count_expr) -%}
    case when {{ count_expr }} >= 10 then '10+' else cast({{ count_expr }} as {{ dbt.type_string() }}) end
{%- endmacro %}

{% macro pressure_bucket_order(count_expr) -%}
    case when {{ count_expr }} >= 10 then 10 else {{ count_expr }} end
{%- endmacro %}

{#- Rows of `relation` counted per day, platform and pressure bucket of `pushes_column`. -#}
{% macro count_by_pressure_bucket(relation, date_column, pushes_column, count_name) -%}
    select
        {{ date_column }},
        platform,
        {{ pressure_bucket(pushes_column) }} as bucket,
        {{ pressure_bucket_order(pushes_column) }} as bucket_order,
        count(*) as {{ count_name }}
    from {{ relation }}
    group by
        {{ date_column }},
        platform,
        {{ pressure_bucket(pushes_column) }},
        {{ pressure_bucket_order(pushes_column) }}
{%- endmacro %}
