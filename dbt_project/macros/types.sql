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

{#- A fixed-point type for sums of fractional shares: a float sum depends on the order the
    engine adds the rows in (threads), a decimal sum does not, so a rebuild gives the same
    bits. 18 decimals keep each share exact far below the 1e-9 the marts promise. -#}
{% macro type_exact_share() -%}
    {{ return(adapter.dispatch('type_exact_share', 'optout')()) }}
{%- endmacro %}

{% macro default__type_exact_share() -%}
    decimal(38, 18)
{%- endmacro %}
