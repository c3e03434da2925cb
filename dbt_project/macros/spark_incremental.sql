{#-
  Incremental models on Spark, the same contract as on DuckDB (macros/incremental_horizon.sql):
  what the build rebuilds is dropped, then the model's rows from there on are written.

  A Parquet table cannot delete rows, but it can drop partitions: each incremental model is
  partitioned by the date that places a row before or after the horizon, its pre-hook drops
  every partition from the horizon on (a partition that ought to become empty must not keep
  stale rows), and `insert_overwrite` with dynamic partition overwrite (profiles.yml) writes
  the partitions the model's select returns, so a retried build replaces, never duplicates.
-#}
{% macro spark__incremental_config(date_column, by_export_day) -%}
    {%- set column = 'export_date' if by_export_day else date_column -%}
    {%- set hook = "{{ drop_rebuilt_partitions('" ~ column ~ "', " ~ (by_export_day | string | lower) ~ ") }}" -%}
    {{ config(
        materialized='incremental',
        incremental_strategy='insert_overwrite',
        on_schema_change='fail',
        partition_by=[column],
        file_format='parquet',
        pre_hook=hook
    ) }}
{%- endmacro %}

{#- Pre-hook: drop the partitions the build rebuilds (from the reload day or the horizon on). -#}
{% macro drop_rebuilt_partitions(column, by_export_day) -%}
    {{- require_existing_for_start_date() -}}
    {#- named outside the execute branch, so dbt records the dependency when it parses (staging
        comes before the horizon: it reloads from the start date) -#}
    {%- set horizon = none if by_export_day else ref('int_build_horizon') -%}
    {%- if execute and is_incremental() -%}
        {%- if by_export_day -%}
            {%- set first_dropped = reload_from_date() | string -%}
        {%- else -%}
            {%- set first_dropped = run_query('select cast(rebuild_from as string) from ' ~ horizon).columns[0].values()[0] -%}
        {%- endif -%}
        {%- set dropped = [] -%}
        {%- for row in run_query('show partitions ' ~ this) -%}
            {%- set value = row[0].split('=', 1)[1] -%}
            {%- if value >= first_dropped -%}
                {%- do dropped.append("partition (" ~ column ~ " = '" ~ value ~ "')") -%}
            {%- endif -%}
        {%- endfor -%}
        {%- if dropped -%}
            alter table {{ this }} drop if exists {{ dropped | join(', ') }}
        {%- else -%}
            select 1
        {%- endif -%}
    {%- else -%}
        select 1
    {%- endif -%}
{%- endmacro %}

{#-
  Post-hooks of fct_opt_outs (external ids) and int_delivery_exposures (platforms) on Spark:
  every row takes its user's current value. No UPDATE on Parquet: the partitions holding a
  changed row are written again whole (dynamic partition overwrite may read the table it
  writes, as it stages the new files first).
-#}
{% macro spark__refresh_external_ids() -%}
    {{ return(spark_refresh_from_users('external_id', or_unknown=false)) }}
{%- endmacro %}

{% macro spark__refresh_platforms() -%}
    {{ return(spark_refresh_from_users('platform', or_unknown=true)) }}
{%- endmacro %}

{#- `column` of each row as int_users_latest has it now; `or_unknown`: the platform rule for
    a user no users record names (macros/metrics.sql) -#}
{% macro spark_refresh_from_users(column, or_unknown) -%}
    {%- set users = ref('int_users_latest') -%}
    {%- if execute and is_incremental() -%}
        {%- set current = platform_or_unknown('users.' ~ column) if or_unknown else 'users.' ~ column -%}
        {%- set latest = platform_or_unknown('latest.' ~ column) if or_unknown else 'latest.' ~ column -%}
        {%- set partition_column = config.get('partition_by')[0] -%}
        {%- set columns = adapter.get_columns_in_relation(this) | map(attribute='name') | list -%}
        {%- set refreshed = [] -%}
        {%- for name in columns -%}
            {%- do refreshed.append(current ~ ' as ' ~ column if name == column else 'facts.' ~ name) -%}
        {%- endfor -%}
        {%- set sql -%}
        insert overwrite table {{ this }} partition ({{ partition_column }})
        select {{ refreshed | join(', ') }}
        from {{ this }} as facts
        left join {{ users }} as users
            on facts.user_id = users.user_id
        where facts.{{ partition_column }} in (
            select changed.{{ partition_column }}
            from {{ this }} as changed
            left join {{ users }} as latest
                on changed.user_id = latest.user_id
            where not (changed.{{ column }} <=> {{ latest }})
        )
        {%- endset -%}
        {{ return(sql) }}
    {%- endif -%}
    {{ return('select 1') }}
{%- endmacro %}
