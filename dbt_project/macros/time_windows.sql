{#- Time arithmetic shared by the models, built on dbt's cross-database macros. -#}

{% macro days_before(timestamp_expr, days) -%}
    {{ dbt.dateadd('day', '-1 * (' ~ days ~ ')', timestamp_expr) }}
{%- endmacro %}

{% macro days_after(timestamp_expr, days) -%}
    {{ dbt.dateadd('day', days, timestamp_expr) }}
{%- endmacro %}

{% macro day_start(date_expr) -%}
    cast({{ date_expr }} as {{ dbt.type_timestamp() }})
{%- endmacro %}

{% macro microseconds_between(earlier, later) -%}
    {{ dbt.datediff(earlier, later, 'microsecond') }}
{%- endmacro %}

{#- The largest of the lookbacks that reach forward from an opt-out (activity, last events). -#}
{% macro longest_activity_lookback() -%}
    {%- set lookbacks = var('last_events_lookbacks') + [var('activity_window_days')] -%}
    {{ return(lookbacks | max) }}
{%- endmacro %}
