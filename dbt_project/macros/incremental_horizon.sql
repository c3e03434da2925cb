{#-
  The first date an incremental run must rebuild.

  New or re-delivered export days from `start_date` on carry events that occurred at most
  `late_arrival_days` earlier (T0). Such an event changes:
    - opt-outs at or after T0 (sequence, window, pressure, attribution);
    - the retain/churn status and last events of opt-outs whose window_start lies within the
      longest activity lookback before T0, and the pending statuses that a later as_of resolves;
    - the estimated spread over windows reaching back `max_detection_lag_days` before T0;
    - every row of a user whose platform or browser is not what the marts were built with
      (int_user_attributes_as_built; an external id alone is refreshed by fct_opt_outs).
  So everything from T0 minus the longest reach is rebuilt, and earlier when such a user's
  first subscription event lies earlier. With no `start_date` the whole history is rebuilt.
-#}
{#-
  The first export day this build (re)ingested, or none: rebuild everything. The pipeline
  passes it in OPTOUT_DBT_START_DATE, read only while models execute: a dbt var that changes
  from run to run makes dbt parse the whole project again (seconds per daily run). The var
  `start_date` still works, for builds run by hand.
-#}
{% macro build_start_date() -%}
    {%- if not execute -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set from_env = env_var('OPTOUT_DBT_START_DATE', '') -%}
    {{ return(from_env if from_env else var('start_date', none)) }}
{%- endmacro %}

{% macro rebuild_from_date() -%}
    {#- ref() before any return, so parsing records the dependencies -#}
    {%- set subscriptions = ref('stg_lake__subscriptions') -%}
    {%- set users = ref('stg_lake__users') -%}
    {%- set start_date = build_start_date() -%}
    {%- if start_date is none or not execute or flags.FULL_REFRESH -%}
        {{ return('1900-01-01') }}
    {%- endif -%}
    {%- set reach = var('late_arrival_days') + ([longest_activity_lookback(), var('max_detection_lag_days')] | max) -%}
    {%- set as_built = users_as_built_relation() -%}
    {%- set query -%}
        select min(cast(s.occurred_at as date)) as first_event_date
        from {{ subscriptions }} as s
        inner join (
            {%- if as_built is none %}
            -- no record of what the marts were built with: every user with a new version
            select distinct user_id
            from {{ users }}
            where export_date >= cast('{{ start_date }}' as date)
            {%- else %}
            -- users whose platform or browser is not what the marts were built with (new
            -- users, changed ones, vanished ones); a new external id alone changes no date's
            -- numbers: fct_opt_outs takes it up in its post-hook
            select coalesce(now_.user_id, built.user_id) as user_id
            from ({{ latest_version(users, 'user_id', ['user_id', 'platform', 'browser']) }}) as now_
            full outer join {{ as_built }} as built
                on now_.user_id = built.user_id
            where
                now_.user_id is null
                or built.user_id is null
                or now_.platform is distinct from built.platform
                or now_.browser is distinct from built.browser
            {%- endif %}
        ) as changed_users
            on s.user_id = changed_users.user_id
    {%- endset -%}
    {%- set first_event = run_query(query).columns[0].values()[0] -%}
    {%- set horizon = modules.datetime.date.fromisoformat(start_date | string) - modules.datetime.timedelta(days=reach) -%}
    {%- if first_event is not none -%}
        {%- set first_event_date = modules.datetime.date.fromisoformat(first_event | string) -%}
        {%- set changed_horizon = first_event_date - modules.datetime.timedelta(days=var('max_detection_lag_days')) -%}
        {%- if changed_horizon < horizon -%}
            {%- set horizon = changed_horizon -%}
        {%- endif -%}
    {%- endif -%}
    {{ return(horizon.isoformat()) }}
{%- endmacro %}

{#-
  int_user_attributes_as_built, when a build has written it: read by name, not ref(), since
  it is built after the marts that read it (a ref would be a cycle).
-#}
{% macro users_as_built_relation() -%}
    {%- set node = graph.nodes['model.optout.int_user_attributes_as_built'] -%}
    {{ return(adapter.get_relation(database=node.database, schema=node.schema, identifier=node.alias)) }}
{%- endmacro %}

{#-
  A `start_date` promises that every incremental model exists and holds everything before
  it (the pipeline passes one only then: orchestration/dbt_assets.py, build_vars). A model
  missing under a `start_date` would be built from its horizon only: it fails instead.
  The promise is checked once, before dbt starts, so models compile alike whatever the
  number of threads.
-#}
{% macro require_existing_for_start_date() -%}
    {%- if execute and build_start_date() is not none and not flags.FULL_REFRESH and not is_incremental() -%}
        {{ exceptions.raise_compiler_error(
            this ~ ' does not exist, so start_date=' ~ build_start_date() ~ ' would build it from that horizon only;'
            ~ ' run without start_date (a full rebuild) or with --full-refresh') }}
    {%- endif -%}
{%- endmacro %}

{#- Pre-hook of an incremental model: drop the rows the run rebuilds (keyed by a date column). -#}
{% macro delete_rebuilt_rows(date_column) -%}
    {{- require_existing_for_start_date() -}}
    {%- if is_incremental() -%}
        delete from {{ this }} where {{ date_column }} >= cast('{{ rebuild_from_date() }}' as date)
    {%- else -%}
        select 1
    {%- endif -%}
{%- endmacro %}

{#- First and last day of the daily marts in this run: covered export days from the horizon on. -#}
{% macro daily_mart_days() -%}
    {%- set covered_relation = ref('int_export_days_covered') -%}
    {%- set rebuild_from = rebuild_from_date() -%}
    {%- if not execute -%}
        {{ return({'first': '2000-01-01', 'last': '2000-01-01'}) }}
    {%- endif -%}
    {%- if load_relation(covered_relation) is none -%}
        {%- if flags.WHICH in ('build', 'run') -%}
            {{ exceptions.raise_compiler_error('int_export_days_covered is not built: no export day ingested?') }}
        {%- endif -%}
        {#- compiling or linting a project that has never run: any day will do -#}
        {{ return({'first': '2000-01-01', 'last': '2000-01-01'}) }}
    {%- endif -%}
    {%- set row = run_query('select first_export_date, last_export_date from ' ~ covered_relation).rows[0] -%}
    {%- set first = [row[0] | string, rebuild_from] | max -%}
    {{ return({'first': first, 'last': row[1] | string}) }}
{%- endmacro %}

{#- One row per day of the daily marts in this run, column `date`. -#}
{% macro daily_mart_spine() -%}
    {%- set days = daily_mart_days() -%}
    {%- set end_exclusive = modules.datetime.date.fromisoformat(days['last']) + modules.datetime.timedelta(days=1) -%}
    select cast(date_day as date) as date
    from (
        {{ dbt.date_spine('day', "cast('" ~ days['first'] ~ "' as date)", "cast('" ~ end_exclusive.isoformat() ~ "' as date)") }}
    ) as spine
{%- endmacro %}

{#-
  First export day an incremental staging table reloads from the lake: the run's
  start_date (every later export day is reloaded too, since a re-delivered day can change
  which of two deliveries of an event comes first). No start_date reloads everything.
-#}
{% macro reload_from_date() -%}
    {%- set start_date = build_start_date() -%}
    {%- if start_date is none or not execute or flags.FULL_REFRESH -%}
        {{ return('1900-01-01') }}
    {%- endif -%}
    {{ return(start_date | string) }}
{%- endmacro %}

{% macro delete_reloaded_days() -%}
    {{- require_existing_for_start_date() -}}
    {%- if is_incremental() -%}
        delete from {{ this }} where export_date >= cast('{{ reload_from_date() }}' as date)
    {%- else -%}
        select 1
    {%- endif -%}
{%- endmacro %}

{#-
  Post-hook of fct_opt_outs: every row takes its user's current external id. A new external
  id is the commonest profile change and moves no number of any day, so it does not pull
  the rebuild horizon back (rebuild_from_date); the rows before the horizon get it here.
-#}
{% macro refresh_external_ids() -%}
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
