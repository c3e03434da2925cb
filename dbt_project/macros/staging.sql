{#-
  A staging model's columns, typed: each column its yml declares (name and data_type, in
  order, the model's enforced contract), cast from the lake column of the same name or, for
  a rename, from the lake column `renamed` maps to it (lake name -> staged name). The yml's
  data_type is the one place a staged type is written; it must match the raw-export
  contract's type of the column (assets/contract.py), which tests/test_contract_types.py
  checks.
-#}
{% macro staged_columns(renamed={}) -%}
    {%- for column in staged_types(renamed) %}
    {%- if column.data_type | lower == 'timestamp' %}
    {{ utc_timestamp(column.lake_name) }} as {{ column.name }}{{ ',' if not loop.last }}
    {%- else %}
    cast({{ column.lake_name }} as {{ column.data_type }}) as {{ column.name }}{{ ',' if not loop.last }}
    {%- endif %}
    {%- endfor %}
{%- endmacro %}

{#-
  A lake instant (Parquet's UTC-adjusted timestamp) as the UTC wall time the marts use,
  whatever the reading session's time zone: a view over the lake (audit.ingestion_log, the
  staged users) is evaluated by whoever reads it, a BI tool in New York included, and
  DuckDB's plain cast would give that session's local time.
-#}
{% macro utc_timestamp(column) -%}
    {{ return(adapter.dispatch('utc_timestamp', 'optout')(column)) }}
{%- endmacro %}

{% macro default__utc_timestamp(column) -%}
    cast(timezone('UTC', {{ column }}) as timestamp)
{%- endmacro %}

{#- Spark: the session's time zone is UTC (profiles.yml), and its timestamps carry no zone. -#}
{% macro spark__utc_timestamp(column) -%}
    cast({{ column }} as timestamp)
{%- endmacro %}

{#-
  [{name, lake_name, data_type}] of the model's declared columns. While dbt parses the
  project the yml is not attached to the model yet: one placeholder column then (no SQL runs).
-#}
{% macro staged_types(renamed={}) -%}
    {%- set staged_names = {} -%}
    {%- for lake_name, name in renamed.items() -%}
        {%- do staged_names.update({name: lake_name}) -%}
    {%- endfor -%}
    {%- set columns = [] -%}
    {%- for column in (model.columns or {}).values() -%}
        {%- if not column.data_type -%}
            {{ exceptions.raise_compiler_error(
                model.name ~ ': column ' ~ column.name ~ ' declares no data_type; a staging model is typed by its yml') }}
        {%- endif -%}
        {%- do columns.append({
            'name': column.name,
            'lake_name': staged_names.get(column.name, column.name),
            'data_type': column.data_type}) -%}
    {%- endfor -%}
    {%- for name in staged_names if execute and name not in columns | map(attribute='name') -%}
        {{ exceptions.raise_compiler_error(model.name ~ ': renamed to ' ~ name ~ ', a column its yml does not declare') }}
    {%- endfor -%}
    {%- if not columns -%}
        {%- if execute -%}
            {{ exceptions.raise_compiler_error(model.name ~ ' declares no columns; a staging model is typed by its yml') }}
        {%- endif -%}
        {%- do columns.append({'name': 'placeholder', 'lake_name': 'null', 'data_type': 'int'}) -%}
    {%- endif -%}
    {{ return(columns) }}
{%- endmacro %}
