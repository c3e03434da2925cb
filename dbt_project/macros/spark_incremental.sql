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
  Post-hook of fct_opt_outs on Spark: every row takes its user's current external id. No
  UPDATE on Parquet: the partitions holding a changed row are written again whole (dynamic
  partition overwrite may read the table it writes, as it stages the new files first).
-#}
{% macro spark__refresh_external_ids() -%}
    {%- set users = ref('int_users_latest') -%}
    {%- if execute and is_incremental() -%}
        {%- set partition_column = config.get('partition_by')[0] -%}
        {%- set columns = adapter.get_columns_in_relation(this) | map(attribute='name') | list -%}
        {%- set refreshed = [] -%}
        {%- for name in columns -%}
            {%- do refreshed.append('users.external_id as external_id' if name == 'external_id' else 'facts.' ~ name) -%}
        {%- endfor -%}
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
            where not (changed.external_id <=> latest.external_id)
        )
    {%- else -%}
        select 1
    {%- endif -%}
{%- endmacro %}


{#-
  Post-hook of int_delivery_exposures on Spark: every delivery takes its user's current
  platform, the partitions holding a changed row written again whole (as above).
-#}
{% macro spark__refresh_platforms() -%}
    {%- set users = ref('int_users_latest') -%}
    {%- if execute and is_incremental() -%}
        {%- set partition_column = config.get('partition_by')[0] -%}
        {%- set columns = adapter.get_columns_in_relation(this) | map(attribute='name') | list -%}
        {%- set refreshed = [] -%}
        {%- for name in columns -%}
            {%- do refreshed.append(platform_or_unknown('users.platform') ~ ' as platform' if name == 'platform' else 'facts.' ~ name) -%}
        {%- endfor -%}
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
            where not (changed.platform <=> {{ platform_or_unknown('latest.platform') }})
        )
    {%- else -%}
        select 1
    {%- endif -%}
{%- endmacro %}
