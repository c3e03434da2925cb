{{ config(materialized='ephemeral') }}
-- For each rebuilt opt-out and each lookback x of `last_events_lookbacks`: its status
-- (retain / pending / churn with x as the activity window).
{%- set rebuild_from = rebuild_from_date() %}

with opt_outs as (
    select
        opt_out_id,
        user_id,
        opt_out_date,
        platform,
        window_start,
        as_of
    from {{ ref('fct_opt_outs') }}
    where opt_out_date >= cast('{{ rebuild_from }}' as date)
),

lookbacks as (
    {% for days in var('last_events_lookbacks') -%}
        select {{ days }} as lookback_days
        {% if not loop.last %}union all{% endif %}
    {% endfor %}
),

opt_out_lookbacks as (
    select
        opt_outs.*,
        lookbacks.lookback_days
    from opt_outs
    cross join lookbacks
),

retained as (
    select distinct
        opt_out_lookbacks.opt_out_id,
        opt_out_lookbacks.lookback_days
    from opt_out_lookbacks
    inner join {{ ref('stg_lake__app_events') }} as app_events
        on
            opt_out_lookbacks.user_id = app_events.user_id
            and opt_out_lookbacks.window_start < app_events.occurred_at
            and app_events.occurred_at
            <= {{ dbt.dateadd('day', 'opt_out_lookbacks.lookback_days', 'opt_out_lookbacks.window_start') }}
)

select
    opt_out_lookbacks.opt_out_id,
    opt_out_lookbacks.user_id,
    opt_out_lookbacks.opt_out_date,
    opt_out_lookbacks.platform,
    opt_out_lookbacks.window_start,
    opt_out_lookbacks.lookback_days,
    case
        when retained.opt_out_id is not null then 'retain'
        when
            {{ dbt.dateadd('day', 'opt_out_lookbacks.lookback_days', 'opt_out_lookbacks.window_start') }}
            > opt_out_lookbacks.as_of
            then 'pending'
        else 'churn'
    end as status
from opt_out_lookbacks
left join retained
    on
        opt_out_lookbacks.opt_out_id = retained.opt_out_id
        and opt_out_lookbacks.lookback_days = retained.lookback_days
