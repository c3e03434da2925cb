{#-
  How an incremental build knows what to rebuild, in two inputs and one model:

  - the first export day the build (re)ingested, `start_date` (build_start_date below): every
    staging table reloads its export days from it on (reload_from_date);
  - int_build_horizon, a one-row model built first, turns it into the first date every
    incremental intermediate and mart model rebuilds (`rebuild_from`, why so far back: that
    model's comment), and the days of the daily marts. The models read it with ref() like
    any other input (build_horizon below): no query runs while a model compiles, so models
    compile alike whatever the order and number of threads, and dbt sees every dependency.

  With no start date, or with --full-refresh, the whole history is rebuilt.
-#}

{#-
  The first export day this build (re)ingested, or none: rebuild everything. The pipeline
  passes it as the start of dbt's event-time range (`dbt build --event-time-start D
  --event-time-end D2`: orchestration/dbt_assets.py, dbt_build_args), a per-invocation flag;
  a dbt var that changes from run to run would make dbt parse the whole project again
  (seconds per daily run). The var `start_date` still works, for builds run by hand.
-#}
{% macro build_start_date() -%}
    {%- if not execute or flags.FULL_REFRESH -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set event_time_start = invocation_args_dict.get('event_time_start') -%}
    {%- if event_time_start -%}
        {{ return((event_time_start | string)[:10]) }}
    {%- endif -%}
    {{ return(var('start_date', none)) }}
{%- endmacro %}

{#- Days back from the start date that events of (re)ingested days reach: int_build_horizon. -#}
{% macro rebuild_reach_days() -%}
    {%- set lookbacks = var('last_events_lookbacks') + [var('activity_window_days')] -%}
    {{ return(var('late_arrival_days') + ([lookbacks | max, var('max_detection_lag_days')] | max)) }}
{%- endmacro %}

{#- One value of this build's horizon (int_build_horizon), as a scalar subquery. -#}
{% macro build_horizon(column) -%}
    (select {{ column }} from {{ ref('int_build_horizon') }})
{%- endmacro %}

{#-
  First export day an incremental staging table reloads from the lake: the start date
  (every later export day is reloaded too, since a re-delivered day can change which of two
  deliveries of an event comes first). A literal, so the lake scan skips the older files.
-#}
{% macro reload_from_date() -%}
    {%- set start_date = build_start_date() -%}
    {{ return('1900-01-01' if start_date is none else start_date | string) }}
{%- endmacro %}

{#-
  A start date promises that every incremental model exists and holds everything before it
  (the pipeline passes one only then: orchestration/dbt_assets.py, rebuild_start_date). A model
  missing under a start date would be built from its horizon only: it fails instead.
-#}
{% macro require_existing_for_start_date() -%}
    {%- if build_start_date() is not none and not is_incremental() -%}
        {{ exceptions.raise_compiler_error(
            this ~ ' does not exist, so start_date=' ~ build_start_date() ~ ' would build it from that horizon only;'
            ~ ' run without start_date (a full rebuild) or with --full-refresh') }}
    {%- endif -%}
{%- endmacro %}

{#- Pre-hook of an incremental staging model: drop the export days the build reloads. -#}
{% macro delete_reloaded_days() -%}
    {{- require_existing_for_start_date() -}}
    {%- if is_incremental() -%}
        delete from {{ this }} where export_date >= cast('{{ reload_from_date() }}' as date)
    {%- else -%}
        select 1
    {%- endif -%}
{%- endmacro %}

{#- Pre-hook of an incremental model after staging: drop the rows the build rebuilds. -#}
{% macro delete_rebuilt_rows(date_column) -%}
    {{- require_existing_for_start_date() -}}
    {%- if is_incremental() -%}
        delete from {{ this }} where {{ date_column }} >= {{ build_horizon('rebuild_from') }}
    {%- else -%}
        select 1
    {%- endif -%}
{%- endmacro %}

{#-
  Post-hook of fct_opt_outs: every row takes its user's current external id. A new external
  id is the commonest profile change and moves no number of any day, so it does not pull
  the horizon back (int_build_horizon); the rows before the horizon get it here.
-#}
{% macro refresh_external_ids() -%}
    {{ return(adapter.dispatch('refresh_external_ids', 'optout')()) }}
{%- endmacro %}

{% macro default__refresh_external_ids() -%}
    {%- if is_incremental() -%}
        update {{ this }} as facts
        set external_id = latest.external_id
        from (
            select
                rows_.opt_out_id,
                users.external_id
            from {{ this }} as rows_
            left join {{ ref('int_users_latest') }} as users
                on rows_.user_id = users.user_id
        ) as latest
        where
            facts.opt_out_id = latest.opt_out_id
            and facts.external_id is distinct from latest.external_id
    {%- else -%}
        select 1
    {%- endif -%}
{%- endmacro %}

{#-
  Post-hook of int_delivery_exposures: every delivery takes its user's current platform
  (the horizon reaches back for users whose platform changed, but a delivery may predate
  the user's first subscription event). Only the users whose platform changed are touched.
-#}
{% macro refresh_platforms() -%}
    {{ return(adapter.dispatch('refresh_platforms', 'optout')()) }}
{%- endmacro %}

{% macro default__refresh_platforms() -%}
    {%- if is_incremental() -%}
        update {{ this }} as exposures
        set platform = latest.platform
        from (
            select
                recipients.user_id,
                {{ platform_or_unknown('users.platform') }} as platform
            from (select distinct user_id from {{ this }}) as recipients
            left join {{ ref('int_users_latest') }} as users
                on recipients.user_id = users.user_id
        ) as latest
        where
            exposures.user_id = latest.user_id
            and exposures.platform is distinct from latest.platform
    {%- else -%}
        select 1
    {%- endif -%}
{%- endmacro %}

{#-
  The config of an incremental model: appended to, after its pre-hook has dropped what the
  build rebuilds - the export days it reloads (staging: by_export_day) or its rows from the
  horizon on (later models: the date column that places a row before or after it). A model
  whose columns changed fails (on_schema_change): its older rows were computed by the old
  logic, so only a rebuild (`optout run --full-refresh`) makes it whole; its enforced
  contract needs that setting too.
-#}
{% macro incremental_config(date_column=none, by_export_day=false) -%}
    {{ return(adapter.dispatch('incremental_config', 'optout')(date_column, by_export_day)) }}
{%- endmacro %}

{#- DuckDB: delete what the build rebuilds, then append. Spark: macros/spark_incremental.sql. -#}
{% macro default__incremental_config(date_column, by_export_day) -%}
    {%- set hook = "{{ delete_reloaded_days() }}" if by_export_day else "{{ delete_rebuilt_rows('" ~ date_column ~ "') }}" -%}
    {{ config(materialized='incremental', incremental_strategy='append', on_schema_change='fail', pre_hook=hook) }}
{%- endmacro %}
