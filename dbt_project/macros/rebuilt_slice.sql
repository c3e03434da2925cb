{#-
  A data test opted in with `config: {meta: {rebuilt_slice: <date column>}}` checks, in an
  incremental build, only the rows that build reloaded (that column >= reload_from_date()):
  the rows before were checked by the builds that wrote them, so a daily run costs the same
  after a year as after a month. A build without a start date checks every row. Otherwise
  dbt's own behaviour: the test's `where` config, if any.
-#}
{% macro get_where_subquery(relation) -%}
    {%- set filters = [] -%}
    {%- set where = config.get('where') -%}
    {%- if where -%}
        {%- do filters.append('(' ~ where ~ ')') -%}
    {%- endif -%}
    {%- set slice_column = (config.get('meta') or {}).get('rebuilt_slice') -%}
    {%- if slice_column and build_start_date() is not none and not flags.FULL_REFRESH -%}
        {%- do filters.append(slice_column ~ " >= cast('" ~ reload_from_date() ~ "' as date)") -%}
    {%- endif -%}
    {%- if filters -%}
        {%- set filtered -%}
            (select * from {{ relation }} where {{ filters | join(' and ') }}) dbt_subquery
        {%- endset -%}
        {%- do return(filtered) -%}
    {%- endif -%}
    {%- do return(relation) -%}
{%- endmacro %}
