{#- Time arithmetic shared by the models, built on dbt's cross-database macros. -#}

{% macro days_before(timestamp_expr, days) -%}
    {{ days_after(timestamp_expr, '-1 * (' ~ days ~ ')') }}
{%- endmacro %}

{% macro days_after(timestamp_expr, days) -%}
    {{ return(adapter.dispatch('days_after', 'optout')(timestamp_expr, days)) }}
{%- endmacro %}

{% macro default__days_after(timestamp_expr, days) -%}
    {{ dbt.dateadd('day', days, timestamp_expr) }}
{%- endmacro %}

{#- dbt-spark's dateadd goes through whole seconds: exact microseconds with an interval -#}
{% macro spark__days_after(timestamp_expr, days) -%}
    (cast({{ timestamp_expr }} as timestamp) + make_dt_interval(cast({{ days }} as int)))
{%- endmacro %}

{% macro day_start(date_expr) -%}
    cast({{ date_expr }} as {{ dbt.type_timestamp() }})
{%- endmacro %}

{% macro microseconds_between(earlier, later) -%}
    {{ return(adapter.dispatch('microseconds_between', 'optout')(earlier, later)) }}
{%- endmacro %}

{% macro default__microseconds_between(earlier, later) -%}
    {{ dbt.datediff(earlier, later, 'microsecond') }}
{%- endmacro %}

{#- dbt-spark's datediff goes through whole seconds -#}
{% macro spark__microseconds_between(earlier, later) -%}
    (unix_micros(cast({{ later }} as timestamp)) - unix_micros(cast({{ earlier }} as timestamp)))
{%- endmacro %}

{#- Every activity lookback the marts report: the last-events lookbacks and the activity window. -#}
{% macro activity_lookbacks() -%}
    {{ return((var('last_events_lookbacks') + [var('activity_window_days')]) | unique | sort) }}
{%- endmacro %}

{#-
  Day numbers 0 .. 99,999 (column `day_number`), from five digit tables: portable to every
  engine (dbt.date_spine runs a query while the model compiles, to count the days).
-#}
{% macro day_numbers() -%}
    {%- set digits -%}
        (
            select 0 as digit union all select 1 union all select 2 union all select 3
            union all select 4 union all select 5 union all select 6 union all select 7
            union all select 8 union all select 9
        )
    {%- endset -%}
    select d0.digit + 10 * d1.digit + 100 * d2.digit + 1000 * d3.digit + 10000 * d4.digit as day_number
    from {{ digits }} as d0
    cross join {{ digits }} as d1
    cross join {{ digits }} as d2
    cross join {{ digits }} as d3
    cross join {{ digits }} as d4
{%- endmacro %}
