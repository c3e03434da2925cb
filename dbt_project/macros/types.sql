{#- A 64-bit float (dbt.type_float() is 32-bit on DuckDB, too coarse for rates and shares). -#}
{% macro type_double() -%}
    {{ return(adapter.dispatch('type_double', 'optout')()) }}
{%- endmacro %}

{% macro default__type_double() -%}
    double precision
{%- endmacro %}

{% macro spark__type_double() -%}
    double
{%- endmacro %}
