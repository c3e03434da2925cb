{#- Buckets of a push count: '0' .. '9' and '10+' (spec/metrics.md). -#}
{% macro pressure_bucket(count_expr) -%}
    case when {{ count_expr }} >= 10 then '10+' else cast({{ count_expr }} as {{ dbt.type_string() }}) end
{%- endmacro %}

{% macro pressure_bucket_order(count_expr) -%}
    case when {{ count_expr }} >= 10 then 10 else {{ count_expr }} end
{%- endmacro %}
