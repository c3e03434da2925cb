{{ config(materialized='table') }}
-- What this build rebuilds, in one row (macros/incremental_horizon.sql). New or re-delivered
-- export days from the start date on carry events that occurred at most `late_arrival_days`
-- earlier (T0). Such an event changes:
--   - opt-outs at or after T0 (sequence, window, pressure, attribution);
--   - the retain/churn status and last events of opt-outs whose window_start lies within the
--     longest activity lookback before T0, and the pending statuses a later as_of resolves;
--   - the estimated spread over windows reaching back `max_detection_lag_days` before T0;
--   - every row of a user whose platform or browser is not what the marts were built with
--     (audit.user_attributes_as_built; an external id alone is refreshed by fct_opt_outs).
-- So everything from T0 minus the longest reach is rebuilt, and earlier when such a user's
-- first subscription event lies earlier. Without a start date the whole history is rebuilt.
{#- every input named before the branch below, so dbt records them whichever is taken -#}
{%- set users = ref('stg_lake__users') %}
{%- set users_latest = ref('int_users_latest') %}
{%- set subscriptions = ref('stg_lake__subscriptions') %}
{%- set lag_days = var('max_detection_lag_days') %}
{#-
  What the marts were built with (audit.user_attributes_as_built) is written after them, by
  the previous build: a ref() would be a cycle, so it is looked up by name.
-#}
{%- set as_built = adapter.get_relation(database=this.database, schema=generate_schema_name('audit', none),
    identifier='user_attributes_as_built') if execute else none %}

with covered as (
    select
        first_export_date,
        last_export_date
    from {{ ref('int_export_days_covered') }}
),

changed_users as (
    -- users whose platform or browser is not what the marts were built with (new users,
    -- changed ones, vanished ones); before any record of it, every user with a new version
    {% if as_built is none -%}
        select distinct user_id
        from {{ users }}
        where export_date >= cast('{{ reload_from_date() }}' as date)
    {%- else -%}
        select coalesce(now_.user_id, built.user_id) as user_id
        from {{ users_latest }} as now_
        full outer join {{ as_built }} as built
            on now_.user_id = built.user_id
        where
            now_.user_id is null
            or built.user_id is null
            or now_.platform is distinct from built.platform
            or now_.browser is distinct from built.browser
    {%- endif %}
),

first_changed as (
    select min(cast(subscriptions.occurred_at as date)) as first_event_date
    from {{ subscriptions }} as subscriptions
    inner join changed_users
        on subscriptions.user_id = changed_users.user_id
),

reach as (
    select
        cast({{ days_before("cast('" ~ reload_from_date() ~ "' as date)", rebuild_reach_days()) }} as date)
            as from_new_days,
        cast({{ days_before('first_changed.first_event_date', lag_days) }} as date) as from_changed_users
    from first_changed
),

horizon as (
    select
        cast('{{ reload_from_date() }}' as date) as reload_from,
        case
            when '{{ reload_from_date() }}' = '1900-01-01' then cast('1900-01-01' as date)  -- a full build
            when from_changed_users < from_new_days then from_changed_users
            else from_new_days
        end as rebuild_from
    from reach
)

select
    horizon.reload_from,
    horizon.rebuild_from,
    -- the daily marts hold covered export days only
    case
        when covered.first_export_date > horizon.rebuild_from then covered.first_export_date
        else horizon.rebuild_from
    end as first_mart_day,
    covered.last_export_date as last_mart_day
from horizon
cross join covered
